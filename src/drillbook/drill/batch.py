"""Loading drills for a command: validation, selection by name, preconditions to run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from drillbook.backends.restic import find_restic
from drillbook.errors import BadInput, CannotRun, SpecProblem
from drillbook.settings import Settings
from drillbook.spec.loader import DrillSet, load_drills
from drillbook.spec.models import Drill


def load_checked(settings: Settings, names: list[str] | None = None) -> DrillSet:
    """Load the drills folder; raise BadInput with every problem that matters to ``names``."""
    drills = load_drills(settings.drills_dir)
    problems = list(drills.problems)
    if names:
        known = set(drills.drills) | {p.file.stem for p in problems}
        unknown = [n for n in names if n not in known]
        for name in unknown:
            choices = ", ".join(sorted(drills.drills)) or "none"
            problems.append(SpecProblem(settings.drills_dir, None, "",
                                        f'no drill named "{name}" (known drills: {choices})'))
        wanted_files = {drills.files[n] for n in names if n in drills.files}
        wanted_files |= {settings.drills_dir / f"{n}.yaml" for n in names}
        problems = [p for p in problems if p.file in wanted_files or p.file == settings.drills_dir
                    or p.file.name == "drillbook.yaml"]
    if problems:
        raise BadInput(f"{len(problems)} problem(s) in {settings.drills_dir}", problems)
    settings.project = drills.config
    return drills


def select(drills: DrillSet, names: list[str]) -> list[Drill]:
    return [drills.drills[n] for n in names]


def ensure_can_run(settings: Settings) -> None:
    """Exit code 3 conditions, checked before any record is written."""
    if not find_restic():
        raise CannotRun("restic is not installed or not on PATH (install it: apt-get install restic)")
    for folder, what in ((settings.reports_dir, "reports"), (settings.sandbox_root, "sandbox root")):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                pass
        except OSError as exc:
            raise CannotRun(f"{what} folder {folder} is not writable: {exc.strerror or exc}") from None
    if not os.access(settings.reports_dir, os.W_OK):
        raise CannotRun(f"reports folder {settings.reports_dir} is not writable")


def drill_file(drills: DrillSet, name: str) -> Path | None:
    return drills.files.get(name)
