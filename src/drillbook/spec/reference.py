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
    ("verify: type sql", models.SqlCheck),
    ("queries[] (sqlite, postgres, sql)", models.Query),
    ("services.<name>: type postgres", models.PostgresService),
    ("services.<name>: type mariadb", models.MariadbService),
    ("services.<name>: type process", models.ProcessService),
    ("services.<name>.ready", models.ServiceReady),
    ("isolation", models.Isolation),
    ("isolation.limits", models.Limits),
    ("notify[] (of a drill)", models.DrillNotifyTarget),
    ("notify[] (of drillbook.yaml)", models.NotifyTarget),
    ("evidence", models.EvidenceTarget),
    ("evidence (drillbook.yaml)", models.ProjectEvidence),
    ("evidence.signer (drillbook.yaml)", models.SignerSettings),
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


NOTIFY_INTRO = """
## Notification bodies, templates and pings

Each `notify[]` target gets the body of its `format`:

- `json` (the default): drillbook's own object, with `drill`, `kind` (drill or runbook), `event`
  (failure, success, recovery, always), `status`, `reason`, `run_id`, `trigger`, `started_at`,
  `finished_at`, `objectives` (`rto`/`rpo`: `measured_seconds`, `target_seconds`, `target`,
  `met`), `owner`, `host`, `report` (path of report.html);
- `slack`: a Slack incoming-webhook message, `text` plus Block Kit `blocks` (drill, status,
  reason, RTO, RPO, run, report); `&`, `<` and `>` from the record are escaped, so a reason
  cannot page `<!channel>` or make a link;
- `teams`: a message with one Adaptive Card (version 1.4), the body a Teams Workflows
  ("Post to a channel when a webhook request is received") webhook takes; text from the record is
  in TextRuns, which Teams does not read as markdown.

`template: <file>` instead renders a Jinja2 template from the drills folder (never from elsewhere,
symlinks and includes too) in Jinja2's sandbox. Its names are the fields of the `json` body above.
Every `{{ expression }}` is written as a JSON value: `{{ reason }}` is a quoted, escaped string,
`{{ objectives.rto.met }}` is `true`; `| tojson` does the same. Join text before it is encoded,
`{{ ("DR drill " ~ drill ~ " " ~ status) | tojson }}`, never paste it between quotes: a body that is
not JSON fails that notification, and so does a name the context lacks. A syntax error is a spec
error at the template's own line (`drillbook validate` shows it). Text from a run is plain in every
body: escape sequences and control characters a restored program printed are removed.

A body the receiver refuses (Slack answers 400 `invalid_payload`) is a failed notification in the
run record, with the receiver's answer; it never changes the run's status.

`ping: <URL>` (in a drill, in drillbook.yaml, or both: both are pinged) works like healthchecks.io,
borgmatic and resticprofile: a POST to `URL/start` when a run starts, to `URL` when it passed, to
`URL/fail` when it failed or was aborted (also for a run finished by `drillbook cleanup`), each
with a one-line summary as its body, 5 seconds per attempt, two attempts. A ping that fails is
logged and listed in the run's notifications; it never fails the run. Runbook runs are not pinged.
"""

SOURCE_COMMANDS_INTRO = """
## Password commands and credentials

`password: {credential: NAME}` reads `$CREDENTIALS_DIRECTORY/NAME`, a systemd credential
(`LoadCredential=NAME:/etc/drillbook/NAME.pw` or `LoadCredentialEncrypted=` in drillbook's unit):
the password is in neither the environment nor a file other accounts can read. Outside such a
unit the variable is unset and the drill fails saying so.

`password: {command: [argv...]}` runs a program, without a shell, with drillbook's environment and
no input, and takes the first line of its output as the password (like restic's
`--password-command`). It is killed after `timeout` (30s unless given). A command that exits
non-zero or prints an empty first line fails the drill naming argv[0] and the exit code; what it
printed, on either stream, is never logged or recorded, as it may hold the password.

A drill file may come from a less trusted colleague, and a password command runs on the drill host,
outside any sandbox, as drillbook's account (often root). So it runs only when:

- `drillbook.yaml` lists the very same argv under `password_commands` (whoever controls the
  project file, the operations team, has approved it; arguments included, since `[/bin/sh, -c, ...]`
  is a trusted program running anything);
- argv[0] is an absolute path (not whatever comes first on PATH);
- that program, and every folder above it, can be changed by no account but root and drillbook's
  (checked before each run, like drillbook's own folders).

A drill naming an unlisted command is a spec error at its line and never runs.
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
            parts.append(f"| `{name}` | {type_text(field.annotation)} | {default} | "
                         f"{(field.description or '').replace('|', '/')} |\n")
    parts += [NOTIFY_INTRO, SOURCE_COMMANDS_INTRO, ENV_INTRO]
    parts += [f"| `{name}` | {why} |\n" for name, why in envnames.documented()]
    return "".join(parts)


def type_text(annotation: Any) -> str:
    """A field's type in words: ``list of text``, ``duration``, `` `none` / `host` ``."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in UNION_ORIGINS:
        return " or ".join(type_text(a) for a in args)
    if origin is list:
        if args and typing.get_origin(args[0]) is typing.Annotated and \
                typing.get_origin(typing.get_args(args[0])[0]) in UNION_ORIGINS:
            return "list of checks (by `type`)"
        return f"list of {type_text(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if annotation is models.Duration:
        return "duration"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation)).replace("str", "text")


def default_value(field: FieldInfo) -> Any:
    """What a field left out is (None when that is no value, or the field is required)."""
    if field.is_required():
        return None
    return field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = default_value(field)
    if value is None:
        return "-"
    if isinstance(value, models.Duration):
        return f"`{value.text}`"
    if isinstance(value, BaseModel):
        return "see below"
    if value in ([], {}, ""):
        return "empty"
    return f"`{value}`"
