"""What pydantic and the YAML reader found, as problems a person can act on, at file:line:column.

Shared by drill files, ``drillbook.yaml`` and runbooks' front matter: the same key path, the same
wording, the same "valid keys here" hint, whichever model the YAML was validated against.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from drillbook.errors import SpecProblem
from drillbook.spec.declared import BRANCHES, one_branch, valid_keys
from drillbook.spec.models import CHECK_MODELS, SERVICE_MODELS
from drillbook.spec.wording import in_words, show
from drillbook.spec.yamlsource import LocatedYaml
from drillbook.util.scrub import mask_urls

DUPLICATE_KEY = "duplicate key (the later one would win silently)"


def duplicate_keys(path: Path, located: LocatedYaml) -> list[SpecProblem]:
    """YAML lets a later key silently replace an earlier one; a spec must not."""
    return [SpecProblem(path, line, dotted(p), DUPLICATE_KEY, column) for p, line, column in located.duplicates]


def validation_problems(path: Path, located: LocatedYaml, data: Any, error: ValidationError,
                        hints: type[BaseModel], default_line: int | None = None) -> list[SpecProblem]:
    """One problem per pydantic error, at the offending key's line and column (else ``default_line``).

    ``hints`` is the model whose fields are listed as the valid keys of an unknown key's mapping.
    """
    problems = []
    for err in one_branch(error.errors(), data):
        loc = _data_path(data, err["loc"])
        line, column = located.position_of(loc)
        if line is None:
            line, column = default_line, None
        field, message = dotted(loc), _message(err, data, loc, hints)
        if loc[:1] == ("notify",):  # a webhook URL quoted back may carry a token
            field, message = mask_urls(field), mask_urls(message)
        problems.append(SpecProblem(path, line, field, message, column))
    return problems


def dedupe(problems: list[SpecProblem]) -> list[SpecProblem]:
    """Union types make pydantic report one mistake several times: keep it once per line and field."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for p in problems:
        key = (p.line, p.field, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def dotted(loc: tuple[Any, ...]) -> str:
    """The key path as a person writes it: ``verify[0].min_count``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-tag and validator segments that are not keys in the user's data."""
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and (part in CHECK_MODELS or part in SERVICE_MODELS):
            continue
        elif isinstance(part, str) and (part.startswith("function-") or "[" in part or part in BRANCHES):
            continue
        else:
            out.append(part)
            node = None
    return tuple(out)


def _message(err: Mapping[str, Any], data: Any, loc: tuple[Any, ...], hints: type[BaseModel]) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        valid = valid_keys(hints, data, loc[:-1])
        return f"unknown key (valid keys here: {', '.join(valid)})" if valid else "unknown key"
    if kind == "missing":
        return "is required"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        what, models = ("service", SERVICE_MODELS) if loc[:1] == ("services",) else ("check", CHECK_MODELS)
        got = f'"{value.get("type")}"' if isinstance(value, dict) and "type" in value else "none"
        return f"unknown {what} type {got} (valid types: {', '.join(models)})"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{show(value)} is not allowed (valid: {expected})"
    if kind in ("value_error", "assertion_error"):
        return str(err["ctx"]["error"])
    return in_words(err, value, loc, hints, data)
