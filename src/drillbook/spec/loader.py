"""Load drill files, collecting every problem of every file at once, each with its line.

Beyond the models, two things are checked here because they need more than one file:
- a ``notify:`` target's ``template:`` must load (its syntax errors are at the template's own line);
- a drill's ``password: {command: [...]}`` must be listed, argv for argv, under
  ``password_commands:`` in drillbook.yaml: a drill file may come from a less trusted colleague,
  and the command runs on this host, outside any sandbox, as drillbook's account (often root).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from drillbook.errors import SpecProblem
from drillbook.locations import PROJECT_CONFIG
from drillbook.spec.models import Drill, NotifyTarget, ProjectConfig
from drillbook.spec.problems import dedupe, duplicate_keys, validation_problems
from drillbook.spec.yamlsource import LocatedYaml, UnusableYaml, read_located
from drillbook.util.lazy import lazy_module

if TYPE_CHECKING:
    from drillbook.outputs import templates
else:
    templates = lazy_module("drillbook.outputs.templates")  # jinja2: only drills with a notify template

PostCheck = Callable[[Path, LocatedYaml, Any], list[SpecProblem]]


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
    result.config, problems = load_project(folder)
    result.problems += problems
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        if path.name == PROJECT_CONFIG:
            continue
        drill, problems = load_drill(path)
        result.problems += problems
        if drill is None:
            continue
        refused = command_not_allowed(path, drill, result.config)
        if refused:
            result.problems.append(refused)
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


def load_project(folder: Path) -> tuple[ProjectConfig, list[SpecProblem]]:
    """Only the folder's ``drillbook.yaml`` (the defaults when it has none or it is broken).

    What a command needs of the project (the reports group, the project's notify: and evidence:
    targets) must not depend on every drill file loading: a reaped run is finished and folders
    are made whatever state the drill files are in.
    """
    path = folder / PROJECT_CONFIG
    if not path.exists():
        return ProjectConfig(), []
    config, problems = _load_model(path, ProjectConfig, {}, notify_templates)
    return config or ProjectConfig(), problems


def load_drill(path: Path) -> tuple[Drill | None, list[SpecProblem]]:
    """One drill, or None with the reasons; ``name`` defaults to the file's stem."""
    return _load_model(path, Drill, {"name": path.stem}, notify_templates)


def notify_templates(path: Path, located: LocatedYaml, value: Any) -> list[SpecProblem]:
    """Every ``notify[].template`` of a valid file loads from the file's folder (the drills folder)."""
    problems = []
    for i, target in enumerate(value.notify):
        line = located.line_of(("notify", i, "template"))
        problems += template_problems(target, path.parent, path, line, f"notify[{i}].template")
    return problems


def template_problems(target: NotifyTarget, folder: Path, declared_in: Path, line: int | None,
                      field: str) -> list[SpecProblem]:
    """A template that will not load: at its own line for a syntax error, at the declaring
    file's line when it is missing."""
    if not target.template:
        return []
    try:
        templates.check(folder, target.template)
    except templates.TemplateProblem as exc:
        if exc.line is None:
            return [SpecProblem(declared_in, line, field, f"template {exc.message}")]
        return [SpecProblem(exc.file, exc.line, field,
                            f"template syntax error: {exc.message} (used by {declared_in}:{line})")]
    return []


def command_not_allowed(path: Path, drill: Drill, config: ProjectConfig) -> SpecProblem | None:
    """A password command the project's drillbook.yaml does not list, as a problem at its line."""
    argv = drill.source.password.command
    if argv is None or argv in config.password_commands:
        return None
    try:
        line = read_located(path).line_of(("source", "password", "command"))
    except (UnusableYaml, OSError, UnicodeDecodeError):
        line = None
    return SpecProblem(path, line, "source.password.command", (
        "a password command runs on this host outside any sandbox, and a drill file may come from "
        f"a less trusted colleague: it runs only when {PROJECT_CONFIG} lists the same argv under "
        f"password_commands (add - {list(argv)} there after checking what it runs)"))


def _load_model(
    path: Path, model: type[BaseModel], defaults: dict[str, Any], post: PostCheck | None = None
) -> tuple[Any, list[SpecProblem]]:
    try:
        located = read_located(path)
    except UnusableYaml as exc:
        return None, [SpecProblem(path, exc.line, "", exc.message, exc.column)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecProblem(path, None, "", f"cannot read: {exc}")]
    value, problems = validate_located(path, located, model, defaults)
    if value is not None and post is not None:
        extra = post(path, located, value)
        if extra:
            return None, problems + extra
    return value, problems


def validate_located(
    path: Path, located: LocatedYaml, model: type[BaseModel], defaults: dict[str, Any]
) -> tuple[Any, list[SpecProblem]]:
    """Validate parsed YAML against ``model``; problems carry the line of the offending key."""
    problems = duplicate_keys(path, located)
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
        # unknown keys are hinted with the fields of Drill, for drillbook.yaml too
        problems += validation_problems(path, located, data, exc, hints=Drill)
        return None, dedupe(problems)
    return (value if not problems else None), problems
