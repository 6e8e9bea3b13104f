"""Load drill files, collecting every problem of every file at once, each with its line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from drillbook.errors import SpecProblem
from drillbook.spec.models import CHECK_MODELS, Drill, ProjectConfig
from drillbook.spec.yamlsource import LocatedYaml, YamlSyntaxError, read_located

PROJECT_CONFIG = "drillbook.yaml"


@dataclass
class DrillSet:
    """Every drill of a folder that loaded, and every problem of those that did not."""

    folder: Path
    drills: dict[str, Drill] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    problems: list[SpecProblem] = field(default_factory=list)
    config: ProjectConfig = field(default_factory=ProjectConfig)


def load_drills(folder: Path) -> DrillSet:
    """All ``*.yaml``/``*.yml`` drills of ``folder`` plus its optional ``drillbook.yaml``."""
    result = DrillSet(folder=folder)
    if not folder.is_dir():
        result.problems.append(SpecProblem(folder, None, "", "drills folder does not exist"))
        return result
    config_path = folder / PROJECT_CONFIG
    if config_path.exists():
        config, problems = _load_model(config_path, ProjectConfig, {})
        result.problems += problems
        result.config = config or ProjectConfig()
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        if path.name == PROJECT_CONFIG:
            continue
        drill, problems = load_drill(path)
        result.problems += problems
        if drill is None:
            continue
        if drill.name in result.drills:
            other = result.files[drill.name]
            result.problems.append(
                SpecProblem(path, 1, "name", f'"{drill.name}" is already used by {other}')
            )
            continue
        result.drills[drill.name] = drill
        result.files[drill.name] = path
    return result


def load_drill(path: Path) -> tuple[Drill | None, list[SpecProblem]]:
    """One drill, or None with the reasons; ``name`` defaults to the file's stem."""
    return _load_model(path, Drill, {"name": path.stem})


def _load_model(
    path: Path, model: type[BaseModel], defaults: dict[str, Any]
) -> tuple[Any, list[SpecProblem]]:
    try:
        located = read_located(path)
    except YamlSyntaxError as exc:
        return None, [SpecProblem(path, exc.line, "", exc.message)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecProblem(path, None, "", f"cannot read: {exc}")]
    return validate_located(path, located, model, defaults)


def validate_located(
    path: Path, located: LocatedYaml, model: type[BaseModel], defaults: dict[str, Any]
) -> tuple[Any, list[SpecProblem]]:
    """Validate parsed YAML against ``model``; problems carry the line of the offending key."""
    problems = [
        SpecProblem(path, line, _dotted(p), "duplicate key (the later one would win silently)")
        for p, line in located.duplicates
    ]
    data = located.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        problems.append(SpecProblem(path, 1, "", f"expected a mapping of fields, found a {kind}"))
        return None, problems
    data = {**defaults, **data}
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        problems += [_problem(path, located, data, err) for err in exc.errors()]
        return None, _dedupe(problems)
    return (value if not problems else None), problems


def _problem(path: Path, located: LocatedYaml, data: Any, err: dict[str, Any]) -> SpecProblem:
    loc = _data_path(data, err["loc"])
    line = located.line_of(loc)
    return SpecProblem(path, line, _dotted(loc), _message(err, data, loc))


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
        elif isinstance(node, dict) and isinstance(part, str) and part in CHECK_MODELS:
            continue
        elif isinstance(part, str) and (part.startswith("function-") or "[" in part):
            continue
        else:
            out.append(part)
            node = None
    return tuple(out)


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(err: dict[str, Any], data: Any, loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        valid = _valid_keys(data, loc[:-1])
        return f"unknown key (valid keys here: {', '.join(valid)})" if valid else "unknown key"
    if kind == "missing":
        return "is required"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        types = ", ".join(CHECK_MODELS)
        got = f'"{value.get("type")}"' if isinstance(value, dict) and "type" in value else "none"
        return f"unknown check type {got} (valid types: {types})"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{_show(value)} is not allowed (valid: {expected})"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind == "string_pattern_mismatch" and loc == ("name",):
        return f"{_show(value)} is not a valid name (letters, digits, . _ - only)"
    text = err["msg"]
    return f"{_show(value)}: {text[0].lower()}{text[1:]}" if not isinstance(value, dict) else text


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _valid_keys(data: Any, parent: tuple[Any, ...]) -> list[str]:
    """The fields the model accepts at ``parent``, for 'did you mean' style hints."""
    model: Any = Drill
    node = data
    for part in parent:
        node = node[part] if isinstance(node, (dict, list)) else None
        if isinstance(part, int):
            continue
        if model is None:
            return []
        field_info = model.model_fields.get(part)
        model = _model_of(field_info.annotation if field_info else None, node)
    if model is None and isinstance(node, dict) and node.get("type") in CHECK_MODELS:
        model = CHECK_MODELS[node["type"]]
    return sorted(model.model_fields) if model else []


def _model_of(annotation: Any, node: Any) -> Any:
    if isinstance(node, dict) and node.get("type") in CHECK_MODELS:
        return CHECK_MODELS[node["type"]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg, node)
        if found:
            return found
    return None


def _dedupe(problems: list[SpecProblem]) -> list[SpecProblem]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for p in problems:
        key = (p.line, p.field, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
