"""Which problems of a drills folder matter to a command, and the drills a command may then use.

``drillbook validate NAME``, ``drillbook run NAME`` and a runbook naming drills each care about
their own drills: a broken file of another drill must not stop them, while the folder itself and
``drillbook.yaml`` (shared by every drill) always matter. The rule lives here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drillbook.errors import BadInput, SpecProblem
from drillbook.spec.loader import PROJECT_CONFIG, DrillSet, load_drills


def problems_for(drills: DrillSet, names: Sequence[str] = ()) -> list[SpecProblem]:
    """Every problem when no names are given; else those that matter to ``names``, unknown names included."""
    problems = list(drills.problems)
    if not names:
        return problems
    known = set(drills.drills) | {p.file.stem for p in problems}
    for name in (n for n in names if n not in known):
        choices = ", ".join(sorted(drills.drills)) or "none"
        problems.append(SpecProblem(drills.folder, None, "",
                                    f'no drill named "{name}" (known drills: {choices})'))
    wanted = {drills.files[n] for n in names if n in drills.files}
    wanted |= {drills.folder / f"{n}.yaml" for n in names}
    return [p for p in problems
            if p.file in wanted or p.file == drills.folder or p.file.name == PROJECT_CONFIG]


def ensure_valid(drills: DrillSet, names: Sequence[str] = ()) -> None:
    """Raise BadInput (exit 2, nothing run) with every problem that matters to ``names``."""
    problems = problems_for(drills, names)
    if problems:
        raise BadInput(f"{len(problems)} problem(s) in {drills.folder}", problems)


def load_valid(folder: Path, names: Sequence[str] = ()) -> DrillSet:
    """The drills folder, when nothing that matters to ``names`` is wrong with it."""
    drills = load_drills(folder)
    ensure_valid(drills, names)
    return drills


def known_drills(drills: DrillSet) -> set[str]:
    """Loaded drills plus files that failed to load: those already have their own problem."""
    return set(drills.drills) | {p.file.stem for p in drills.problems if p.file.suffix in (".yaml", ".yml")}
