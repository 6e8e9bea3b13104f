"""The drill reference and JSON Schema, generated from the models: the spec is declared once.

``docs/drill-spec.md`` and ``docs/drill.schema.json`` are written by ``drillbook schema`` and a
test fails when they drift from the models, so the docs never describe a field that is not there.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from drillbook.spec import envnames, models

UNION_ORIGINS = (typing.Union, types.UnionType)  # Union[A, B] and A | B

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("Drill (`drills/<name>.yaml`)", models.Drill),
    ("objectives", models.Objectives),
    ("source", models.Source),
    ("source.password", models.PasswordSource),
    ("source.snapshot", models.SnapshotSelector),
    ("source.immutability", models.Immutability),
    ("verify: type files", models.FilesCheck),
    ("verify: type sqlite", models.SqliteCheck),
    ("verify: type command", models.CommandCheck),
    ("verify: type http", models.HttpCheck),
    ("verify: type tcp", models.TcpCheck),
    ("verify: type postgres", models.PostgresCheck),
    ("queries[] (sqlite, postgres)", models.Query),
    ("isolation", models.Isolation),
    ("isolation.limits", models.Limits),
    ("notify[] (of a drill)", models.DrillNotifyTarget),
    ("notify[] (of drillbook.yaml)", models.NotifyTarget),
    ("evidence", models.EvidenceTarget),
    ("Project config (`drills/drillbook.yaml`)", models.ProjectConfig),
    ("reports (drillbook.yaml)", models.ReportsSettings),
]

INTRO = """# Drill spec reference

Generated from `src/drillbook/spec/models.py` by `drillbook schema --markdown`; do not edit by
hand. Unknown keys are errors everywhere. Durations are written `90s`, `15m`, `26h`, `1d`, `2w`,
`7y` (or compound, `1h30m`). Paths in checks are relative to the restore root and may not climb
out of it; other relative paths in a drill (repository, password file) are relative to the drill
file. Editors with a YAML language server can validate drills against `docs/drill.schema.json`.

Values are read by YAML 1.2's core schema: only `true`/`false` are booleans, only `42`, `-3`,
`0o755`, `0x1F`, `1.5`, `1e3` and `.inf` are numbers, and everything else is the text as written:
`12:30`, `1:30`, `0755`, `2026-01-01`, `1_000`, `yes` and `on` stay text (YAML 1.1 read them as
750, 90, 493, a date, 1000 and booleans). A field that wants a number accepts its text.
"""

ENV_INTRO = """
## env: (of a drill, of a check, of a runbook's front matter)

Names are letters, digits and `_`, not starting with a digit. These variables are refused whatever
their value: they do not configure a program, they make the dynamic loader, the C library, a shell
or a language runtime load or run code they name, before the program's first line. A drill may come
from a less trusted colleague; if a program really needs one, set it on that one command
(`env NAME=... program`), where a reader sees it. A name ending in `*` stands for every name that
starts with what precedes it.

| variable | why it is refused |
|---|---|
"""


def json_schema() -> dict[str, Any]:
    schema = models.Drill.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "drillbook drill"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def markdown_reference() -> str:
    parts = [INTRO]
    for title, model in SECTIONS:
        parts.append(f"\n## {title}\n")
        doc = (model.__doc__ or "").strip().splitlines()
        if doc:
            parts.append(doc[0].replace("``", "`") + "\n")
        parts.append("\n| field | type | default | meaning |\n|---|---|---|---|\n")
        for name, field in model.model_fields.items():
            default = "the file's stem" if (model, name) == (models.Drill, "name") else _default(field)
            parts.append(f"| `{name}` | {_type(field.annotation)} | {default} | "
                         f"{(field.description or '').replace('|', '/')} |\n")
    parts.append(ENV_INTRO)
    parts += [f"| `{name}` | {why} |\n" for name, why in envnames.documented()]
    return "".join(parts)


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in UNION_ORIGINS:
        return " or ".join(_type(a) for a in args)
    if origin is list:
        if args and typing.get_origin(args[0]) is typing.Annotated and \
                typing.get_origin(typing.get_args(args[0])[0]) in UNION_ORIGINS:
            return "list of checks (by `type`)"
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if annotation is models.Duration:
        return "duration"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation)).replace("str", "text")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is None:
        return "-"
    if isinstance(value, models.Duration):
        return f"`{value.text}`"
    if isinstance(value, BaseModel):
        return "see below"
    if value in ([], {}, ""):
        return "empty"
    return f"`{value}`"
