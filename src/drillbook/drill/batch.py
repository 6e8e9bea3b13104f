"""Drills for a command: load and validate them, check drillbook can run, run them in order.

``drillbook run`` and a runbook's drill step both run drills through :func:`run_drills`: one copy
of the order, the scheduler's overrun guard, and when to stop (after an interrupt, always; after a
failure, when the caller says so).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from drillbook.drill.phases import Observer
from drillbook.drill.target import DeclaredDrill
from drillbook.errors import CannotRun
from drillbook.settings import Settings, prepare_folders
from drillbook.spec.loader import DrillSet, load_project
from drillbook.spec.models import ProjectConfig
from drillbook.spec.validate import load_valid
from drillbook.status import Status
from drillbook.util.lazy import lazy_module

if TYPE_CHECKING:
    from drillbook.backends import restic
    from drillbook.drill import engine, overrun
    from drillbook.drill.engine import DrillOutcome, RunOptions
else:
    # validate and list load drills, never run one: what a run needs loads when one starts
    engine = lazy_module("drillbook.drill.engine")
    overrun = lazy_module("drillbook.drill.overrun")
    restic = lazy_module("drillbook.backends.restic")


def load_checked(settings: Settings, names: Sequence[str] = ()) -> DrillSet:
    """Load the drills folder; raise BadInput with every problem that matters to ``names``."""
    return load_valid(settings.drills_dir, names)


def ensure_can_run(settings: Settings, project: ProjectConfig | None = None) -> None:
    """Exit code 3 conditions, checked before any record is written.

    ``project`` is the drills' drillbook.yaml, read from the drills folder when not given.
    """
    if not restic.find_restic():
        raise CannotRun("restic is not installed or not on PATH (install it: apt-get install restic)")
    ensure_folders(settings, project)
    for folder, what in ((settings.reports_dir, "reports"), (settings.sandbox_root, "sandbox root")):
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                pass
        except OSError as exc:
            raise CannotRun(f"{what} folder {folder} is not writable: {exc.strerror or exc}") from None
    if not os.access(settings.reports_dir, os.W_OK):
        raise CannotRun(f"reports folder {settings.reports_dir} is not writable")


def ensure_folders(settings: Settings, project: ProjectConfig | None = None, *, create: bool = True) -> None:
    """Make and check the folders a command writes to (see settings.prepare_folders).

    Without ``project``, only drillbook.yaml is read: a broken drill file is no reason to refuse.
    """
    if project is None:
        project, _problems = load_project(settings.drills_dir)
    prepare_folders(settings, reports_group=project.reports.group, create=create)


def declared(drills: DrillSet, name: str) -> DeclaredDrill:
    """Drill ``name`` with its file and the folder's drillbook.yaml, as the engine needs it."""
    return DeclaredDrill(drills.drills[name], drills.files.get(name), drills.config)


def run_drill(target: DeclaredDrill, settings: Settings, options: RunOptions,
              observer: Observer | None = None) -> DrillOutcome:
    """The engine's run of one drill; the engine loads on the first run, never for validate or list."""
    return engine.run_drill(target, settings, options, observer)


def run_drills(drills: DrillSet, names: Sequence[str], settings: Settings, options: RunOptions,
               observer: Observer | None = None, *,
               on_outcome: Callable[[DrillOutcome], None] | None = None,
               stop_on_failure: bool = False) -> list[DrillOutcome]:
    """Run ``names`` in order; ``on_outcome`` hears of each run as soon as it has ended.

    An aborted run (an interrupt) stops the batch; so does any run that did not pass when
    ``stop_on_failure`` is set (a runbook step has failed by then, later drills cannot change it).
    """
    outcomes = []
    for name in names:
        target = declared(drills, name)
        with overrun.OverrunGuard(target.drill, options.stop_after_rto, observer) as observe:
            outcome = run_drill(target, settings, options, observe)
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
        status = outcome.record["status"]
        if status == Status.ABORTED or (stop_on_failure and status != Status.PASSED):
            break
    return outcomes
