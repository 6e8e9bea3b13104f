"""Commented examples of every kind of check, generated from the models so they cannot go stale.

``drillbook init`` writes them below a first drill's own check: whoever fills the drill in sees
every kind of check the check union of :mod:`drillbook.spec.models` has, each field with its type
and meaning as the reference gives them (:mod:`drillbook.spec.reference`). A field shows the value
of :data:`EXAMPLES` when it has one, else its default; a field whose default is no value is shown
commented twice, so uncommenting an example once always gives a check that loads (a unit test
loads each one, so a new required field without an example fails there, not in a user's drill).
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from drillbook.spec import models
from drillbook.spec.reference import default_value, type_text
from drillbook.spec.yamltext import flow

#: Values that show what a field is for, on the clinic the rest of the documentation uses.
EXAMPLES: dict[str, dict[str, Any]] = {
    "files": {"path": "srv/clinic/docs", "min_count": 10, "required": ["letter-0001.txt"]},
    "sqlite": {"path": "srv/clinic/db/appointments.sqlite",
               "queries": [{"sql": "select count(*) from appointments", "expect": ">= 1000"}]},
    "command": {"run": ["./srv/clinic/bin/selftest", "--quick"], "env": {"TZ": "Europe/Berlin"}},
    "http": {"start": ["./srv/portal/bin/portal", "--port", "8080"], "url": "http://127.0.0.1:8080/health",
             "expect_body": "ok"},
    "tcp": {"start": ["./srv/pacs/bin/dicomd", "--port", "4242"], "port": 4242},
    "postgres": {"dump": "srv/db/clinic.dump",
                 "queries": [{"sql": "select count(*) from patients", "expect": ">= 1"}]},
    "sql": {"service": "db",
            "queries": [{"sql": "select count(*) from appointments", "expect": ">= 1"}]},
}


def check_models() -> dict[str, type[BaseModel]]:
    """Each member of the drill's check union, by the ``type`` that selects it."""
    union = typing.get_args(models.Check)[0]
    return {typing.get_args(member.model_fields["type"].annotation)[0]: member
            for member in typing.get_args(union)}


def example_check(kind: str) -> dict[str, Any]:
    """The example of one kind of check as data: its type, then the example values."""
    return {"type": kind, **EXAMPLES.get(kind, {})}


def commented_examples(indent: str = "  ") -> str:
    """Every kind of check as a commented list entry, each field with its type and meaning."""
    blocks = [_commented(kind, model, indent) for kind, model in check_models().items()]
    return f"{indent}#\n".join(blocks)


def _commented(kind: str, model: type[BaseModel], indent: str) -> str:
    examples = example_check(kind)
    lines = [f"{indent}# - type: {kind}\n"]
    for name, field in model.model_fields.items():
        if name == "type":
            continue
        about = f"# {type_text(field.annotation).replace('`', '')}: {field.description or ''}".rstrip()
        value = examples[name] if name in examples else default_value(field)
        if value is None:
            lines.append(f"{indent}#   # {name}:  {about}\n")
        else:
            lines.append(f"{indent}#   {name}: {flow(value)}  {about}\n")
    return "".join(lines)
