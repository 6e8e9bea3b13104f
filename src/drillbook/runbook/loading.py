"""Loading runbooks for a command: validation together with the drills they name.

Problems of drills and runbooks come back all at once (BadInput, exit 2) before anything runs.
"""

from __future__ import annotations

import getpass
import os

from drillbook.drill.batch import ensure_can_run, ensure_folders
from drillbook.errors import BadInput, SpecProblem
from drillbook.runbook.model import Runbook
from drillbook.runbook.parser import RunbookSet, check_drills, load_runbooks
from drillbook.settings import Settings
from drillbook.spec.loader import DrillSet, load_drills
from drillbook.spec.validate import ensure_valid, known_drills, problems_for


def validate_with_runbooks(settings: Settings, names: list[str]) -> tuple[DrillSet, int | None]:
    """``drillbook validate``: the drills (all or ``names``), and every runbook when no names."""
    drills = load_drills(settings.drills_dir)
    problems: list[SpecProblem] = problems_for(drills, names)
    count = None
    if not names:
        runbooks = load_runbooks(settings.runbooks_dir)
        problems += runbooks.problems
        problems += check_drills(runbooks.runbooks.values(), known_drills(drills))
        count = len(runbooks.runbooks) + len({p.file for p in runbooks.problems})
    if problems:
        raise BadInput(f"{len(problems)} problem(s)", problems)
    return drills, count


def load_all(settings: Settings) -> RunbookSet:
    """The runbooks folder, which must exist for runbook commands; problems raise."""
    folder = settings.runbooks_dir
    if not folder.is_dir():
        raise BadInput(f"runbooks folder {folder} does not exist (set --runbooks or DRILLBOOK_RUNBOOKS)")
    runbooks = load_runbooks(folder)
    if runbooks.problems:
        raise BadInput(f"{len(runbooks.problems)} problem(s) in {folder}", runbooks.problems)
    return runbooks


def load_one(settings: Settings, name: str) -> tuple[Runbook, DrillSet | None]:
    """One runbook ready to run: its own problems, its drills' problems, all at once."""
    folder = settings.runbooks_dir
    if not folder.is_dir():
        raise BadInput(f"runbooks folder {folder} does not exist (set --runbooks or DRILLBOOK_RUNBOOKS)")
    runbooks = load_runbooks(folder)
    mine = [p for p in runbooks.problems if p.file.stem == name]
    if mine:
        raise BadInput(f"{len(mine)} problem(s) in runbook {name}", mine)
    runbook = runbooks.runbooks.get(name)
    if runbook is None:
        choices = ", ".join(sorted(runbooks.runbooks)) or "none"
        raise BadInput(f'no runbook named "{name}" in {folder} (known runbooks: {choices})')
    drills = drills_for(settings, runbook)
    if drills is None:
        ensure_folders(settings)  # no drill to run, but its record and lock are written all the same
    return runbook, drills


def drills_for(settings: Settings, runbook: Runbook) -> DrillSet | None:
    names = runbook.drill_names()
    if not names:
        return None
    drills = load_drills(settings.drills_dir)
    problems = check_drills([runbook], known_drills(drills))
    if problems:
        raise BadInput(f"{len(problems)} problem(s) in runbook {runbook.name}", problems)
    ensure_valid(drills, names)
    ensure_can_run(settings, drills.config)
    return drills


def operator_name(given: str | None) -> str:
    """``--operator``, else DRILLBOOK_OPERATOR, else the login name."""
    if given and given.strip():
        return given.strip()
    if os.environ.get("DRILLBOOK_OPERATOR", "").strip():
        return os.environ["DRILLBOOK_OPERATOR"].strip()
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without a passwd entry)
        return f"uid {os.getuid()}"
