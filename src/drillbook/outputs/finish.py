"""The one post-run pipeline: what happens to a drill run, a runbook run or a reaped run once
its outcome is known.

Every kind of run goes through the same steps, in this order:

1. ``notify``: notifications, then the drill's pings (the ``start`` ping went out when the run
   started, see :func:`started`); their outcome (sent/failed/skipped per target) goes into the
   record;
2. ``record``: run.json, atomically: the evidence itself;
3. ``reports``: the files of the run's kind (:data:`KINDS`), each rendered from the record;
4. ``index``: reports/index.html;
5. ``upload``: the WORM copy, before sealing so that the ledger covers ``evidence-upload.json``;
6. ``seal``: the evidence ledger, then its new head published to the WORM bucket.

No step changes the run's status. A failing step is logged (and recorded where the record has a
place for it: notifications in run.json, the upload's outcome in ``evidence-upload.json``) and the
later steps still run. Only the ``record`` step may raise: a run whose run.json cannot be written
must not look finished (its folder is then neither uploaded nor sealed).

A run whose drillbook died after its final run.json but before the seal is finished later by
:func:`seal_late` (the reaper calls it from ``run``, ``cleanup`` and ``serve``).

A run on a site worker (``drillbook worker``) is *deferred*: the worker writes its record and
reports only (steps 2 and 3); the central side that receives the folder notifies, indexes,
uploads and seals it with the one signing key, which no worker holds. Such a record says so in
``process.outputs`` (:data:`CENTRAL`), so a worker's reaper finishing a run it left behind does
not notify or seal it either.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from drillbook.outputs import faults
from drillbook.outputs import ping as pinger
from drillbook.outputs.faults import Fault
from drillbook.outputs.runstore import RUN_FILE, RunKind, read_record
from drillbook.settings import Settings
from drillbook.spec.loader import load_drills, load_project
from drillbook.spec.models import ProjectConfig
from drillbook.status import Status
from drillbook.util.atomic import write_json_atomic, write_text_atomic
from drillbook.util.lazy import lazy_module
from drillbook.util.plain import strip_controls_in

if TYPE_CHECKING:
    from drillbook.evidence import anchor, ledger
    from drillbook.evidence import upload as worm
    from drillbook.outputs import notify as notifier
    from drillbook.report import junit, render
    from drillbook.runbook import render as runbook_render
else:
    # A run builds its PostRun and sends its start ping before restic starts; what the later steps
    # need (jinja2, markdown_it, cryptography, urllib3: a few hundred ms on a busy host) loads
    # when the run finishes, so that a drill's clock starts with the restore.
    anchor = lazy_module("drillbook.evidence.anchor")
    ledger = lazy_module("drillbook.evidence.ledger")
    worm = lazy_module("drillbook.evidence.upload")
    notifier = lazy_module("drillbook.outputs.notify")
    junit = lazy_module("drillbook.report.junit")
    render = lazy_module("drillbook.report.render")
    runbook_render = lazy_module("drillbook.runbook.render")

log = logging.getLogger("drillbook.outputs.finish")

Renderer = Callable[[dict[str, Any]], str]
CENTRAL = "central"  # process.outputs of a record whose notify/index/upload/seal happen centrally


class Record(Protocol):
    """What the steps need of a record: the engine's and the executor's dataclasses fit as they are."""

    notifications: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]: ...


class LoadedRecord:
    """A record known only as its run.json (a reaped run), behind the same :class:`Record` face."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    @property
    def notifications(self) -> list[dict[str, Any]]:
        return self.data.get("notifications") or []

    @notifications.setter
    def notifications(self, value: list[dict[str, Any]]) -> None:
        self.data["notifications"] = value

    def to_dict(self) -> dict[str, Any]:
        """A copy, like ``asdict`` gives: what was written must not change with the live record."""
        return copy.deepcopy(self.data)


@dataclass(frozen=True)
class Kind:
    """Where the kinds of run differ, on purpose; every kind goes through every step."""

    reports: tuple[tuple[str, Renderer], ...]
    # A drill declares its own notify: and evidence: targets; a runbook declares none, so only
    # the project's (drillbook.yaml) apply to it.
    own_targets: bool


def _renderer(module: ModuleType, name: str) -> Renderer:
    """``module.name``, looked up when a report is written (the module loads then)."""
    return lambda record: getattr(module, name)(record)


def _runbook_renderer(index: int) -> Renderer:
    """The runbook's own renderer of its ``index``-th report, looked up when the report is written."""
    return lambda record: runbook_render.REPORTS[index][1](record)


DRILL_REPORTS: tuple[tuple[str, Renderer], ...] = (
    ("report.html", _renderer(render, "run_html")),
    ("report.md", _renderer(render, "run_markdown")),
    ("junit.xml", _renderer(junit, "run_xml")),
)

#: the same files as a drill's (runbook/render.py lists them in this order; a test holds them equal)
RUNBOOK_REPORTS: tuple[tuple[str, Renderer], ...] = tuple(
    (name, _runbook_renderer(index)) for index, (name, _) in enumerate(DRILL_REPORTS))

KINDS: dict[str, Kind] = {
    RunKind.DRILL: Kind(reports=DRILL_REPORTS, own_targets=True),
    RunKind.RUNBOOK: Kind(reports=RUNBOOK_REPORTS, own_targets=False),
}


@dataclass
class PostRun:
    """One finished run as the post-run steps see it."""

    kind: RunKind
    folder: Path
    record: Record
    settings: Settings
    spec: Any = None  # the drill (its notify: and evidence:); None for runbooks
    project: ProjectConfig | None = None  # drillbook.yaml: project-wide notify: and evidence:
    written: dict[str, Any] | None = field(default=None, repr=False)  # run.json as last written
    pings: list[dict[str, Any]] = field(default_factory=list)  # the start pings' entries
    deferred: bool = False  # a site worker's run: record and reports only, the rest centrally
    full_index: bool = False  # every drill's history page rewritten, not only this run's (the reaper's)

    @property
    def rules(self) -> Kind:
        return KINDS[self.kind]


# -- the steps ---------------------------------------------------------------------------------
def as_recorded(record: Record) -> dict[str, Any]:
    """The record as run.json keeps it: a check's output, a reason or a restored name may hold
    what a restored program printed, so every text loses its escape sequences and control
    characters here, before anything (notification, record, report) is made from it."""
    return strip_controls_in(record.to_dict())


def notify_step(run: PostRun) -> None:
    """Notifications and pings: their outcome belongs in run.json; a problem never touches the status."""
    record = as_recorded(run.record)
    try:
        sent = notifier.notify_run(record, run.spec, run.settings, run.project)
    except Exception as exc:  # a notification problem must never change or lose the run
        log.error("notifications could not be sent: %s", type(exc).__name__)
        faults.failed(Fault.NOTIFICATION, "all", _name(run))
        sent = [{"target": "all", "status": notifier.Delivery.FAILED,
                 "detail": f"internal error: {type(exc).__name__}"}]
    run.record.notifications = sent + run.pings + finish_pings(run, record)


def started(run: PostRun, run_id: str, trigger: str) -> None:
    """A drill run has started: its ``start`` pings, kept for the record (never raises)."""
    if run.kind != RunKind.DRILL or run.deferred:
        return
    name = str(getattr(run.spec, "name", "?"))
    run.pings = counted(run, pinger.send(pinger.urls(run.spec, run.project), pinger.PingEvent.START,
                                         pinger.start_message(name, run_id, trigger)))


def finish_pings(run: PostRun, record: dict[str, Any]) -> list[dict[str, Any]]:
    if run.kind != RunKind.DRILL or record.get("status") == Status.RUNNING:
        return []
    return counted(run, pinger.send(pinger.urls(run.spec, run.project),
                                    pinger.event_of(str(record.get("status"))), pinger.finish_message(record)))


def counted(run: PostRun, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ping that failed is a notification failure to the counters too."""
    for entry in entries:
        if entry["status"] != notifier.Delivery.SENT:
            faults.failed(Fault.NOTIFICATION, entry["target"], _name(run))
    return entries


def record_step(run: PostRun) -> None:
    data = as_recorded(run.record)
    write_json_atomic(run.folder / RUN_FILE, data)
    run.written = data


def reports_step(run: PostRun) -> list[str]:
    """Each report from the record just written; returns the names of the files written."""
    data = run.written if run.written is not None else as_recorded(run.record)
    if data.get("status") == Status.RUNNING:
        return []  # a run still running has a record, not yet a report
    done = []
    for name, renderer in run.rules.reports:
        try:
            write_text_atomic(run.folder / name, renderer(data))
            done.append(name)
        except Exception as exc:  # run.json already holds the outcome; a renderer bug must not hide it
            log.error("could not render %s of %s: %s", name, run.folder, exc)
    return done


def index_step(run: PostRun) -> None:
    """The index, with the history page of this run's drill only: the other drills' pages did not
    change. A reaped run rebuilds them all, the reaper being where pages a crash left stale are mended."""
    try:
        render.write_index(run.settings.reports_dir, only=None if run.full_index else _history_of(run))
    except Exception as exc:  # the index is a convenience; the run's own files are the evidence
        log.warning("could not refresh reports/index.html: %s", exc)


def _history_of(run: PostRun) -> str:
    """The drill whose history page the run changed ("" for a runbook's run: it has none)."""
    return run.folder.parent.name if run.kind == RunKind.DRILL else ""


def upload_step(run: PostRun) -> None:
    try:
        worm.upload_after_run(run.folder, run.spec, run.settings, run.project)
    except Exception as exc:  # upload_after_run records its own failures; this is a bug's last net
        log.error("WORM evidence upload step failed: %s", exc)
        faults.failed(Fault.WORM_UPLOAD, drill=_name(run))


def seal_step(run: PostRun) -> bool:
    """Into the evidence ledger; an unsealed run stays visible to ``evidence verify`` as unrecorded
    (and the next ``run``, ``cleanup`` or ``serve`` seals it: see :func:`seal_late`)."""
    try:
        entry = ledger.seal(run.folder, run.settings)
    except Exception as exc:
        log.error("could not seal %s into the evidence ledger: %s", run.folder, exc)
        faults.failed(Fault.LEDGER_SEAL, drill=_name(run))
        return False
    anchor_step(run, entry)
    return entry is not None


def anchor_step(run: PostRun, entry: dict[str, Any] | None) -> None:
    """The ledger head ``entry`` (the run's seal, or a note about the run) to the run's WORM target."""
    try:
        anchor.publish_head(entry, run.spec, run.settings, run.project)
    except Exception as exc:  # publish_head logs its own failures; this is a bug's last net
        log.error("could not publish the ledger head: %s", exc)


def anchor_note(entry: dict[str, Any], settings: Settings) -> None:
    """A note just sealed about a run: its head is anchored now, where the run's own head went
    (the run's drill's target, else the project's), not only by the next run's seal."""
    folder = settings.reports_dir / str(entry["path"])
    record = read_record(folder / RUN_FILE) or {"drill": entry.get("name")}
    anchor_step(reaped(folder, record, settings), entry)


def _name(run: PostRun) -> str:
    """The drill (or runbook) a failure belongs to, for the counters' listeners."""
    return run.folder.parent.name


# -- what callers use --------------------------------------------------------------------------
def finish(run: PostRun) -> None:
    """Every step, in order: runbook runs and reaped runs call this."""
    notify(run)
    write_record_and_reports(run)
    after_outputs(run)


def notify(run: PostRun) -> None:
    """Step 1; the engine calls it before its timed ``report`` phase."""
    if not run.deferred:
        notify_step(run)


def write_record_and_reports(run: PostRun) -> list[str]:
    """Steps 2 and 3 (the engine times them as its ``report`` phase); returns the files written."""
    record_step(run)
    return [RUN_FILE, *reports_step(run)]


def after_outputs(run: PostRun) -> None:
    """Steps 4 to 6, on the files as they are final.

    A record changed since it was written (the engine appends its ``report`` phase, timed around
    the write) is written again first, with its reports: what is uploaded and sealed is the record.
    """
    if as_recorded(run.record) != run.written:
        write_record_and_reports(run)
    if run.deferred:
        return
    index_step(run)
    upload_step(run)
    seal_step(run)


def seal_late(folder: Path, record: dict[str, Any], settings: Settings,
              project: ProjectConfig | None = None) -> bool:
    """A finished run whose drillbook stopped before sealing it: the steps it missed, then the seal.

    Its run.json is final (notifications went out before it was written), so it is never written
    again. Reports it lacks are rendered from it; the WORM upload runs unless it left its outcome
    (before the seal, so the ledger covers that file too). True when the run is now sealed.
    """
    run = reaped(folder, record, settings, project)
    run.written = record
    if run.deferred:
        return False
    if any(not (folder / name).exists() for name, _ in run.rules.reports):
        reports_step(run)
    index_step(run)
    if not (folder / worm.RESULT_FILE).exists():
        upload_step(run)
    return seal_step(run)


def write_outputs(record: Record, run_dir: Path, drill: Any, settings: Settings) -> None:
    """A drill's record as it stands: the engine saves it ``running`` at the start, so a crash
    leaves a trace (a record still running gets no reports)."""
    write_record_and_reports(PostRun(RunKind.DRILL, run_dir, record, settings, drill))


def for_runbook(folder: Path, record: Record, settings: Settings,
                project: ProjectConfig | None = None) -> PostRun:
    """A runbook run: a runbook declares no targets of its own, so the project's apply.

    ``drillbook runbook`` loads drillbook.yaml only for a runbook with drill steps (and passes it);
    without them the project's targets are read here from drillbook.yaml.
    """
    if project is None:
        project = _project(settings)
    return PostRun(RunKind.RUNBOOK, folder, record, settings, project=project)


def reaped(folder: Path, record: dict[str, Any], settings: Settings,
           project: ProjectConfig | None = None) -> PostRun:
    """A run finished by the reaper: it notifies, uploads and seals like any other run.

    Its drillbook is gone, so the targets are looked up again: the drill's own in the drills
    folder (for a drill run) and, unless the caller loaded it, the project's in ``drillbook.yaml``
    alone, so that no drill file keeps the project's targets from a run.
    """
    kind = RunKind(record["kind"]) if record.get("kind") in KINDS else RunKind.DRILL
    spec = _own_drill(settings, str(record.get("drill"))) if KINDS[kind].own_targets else None
    if project is None:
        project = _project(settings)
    return PostRun(kind, folder, LoadedRecord(record), settings, spec, project=project,
                   deferred=is_deferred(record), full_index=True)


def is_deferred(record: dict[str, Any]) -> bool:
    """Written by a site worker, not yet received centrally: no notification, no seal here."""
    process = record.get("process")
    return isinstance(process, dict) and process.get("outputs") == CENTRAL


def _project(settings: Settings) -> ProjectConfig | None:
    """drillbook.yaml as it is now; None when there is no drills folder to read."""
    if not settings.drills_dir.is_dir():
        return None
    try:
        config, problems = load_project(settings.drills_dir)
    except Exception as exc:  # a broken drills folder must not keep a run from its outputs
        log.warning("cannot read %s for the project's notify/evidence targets: %s", settings.drills_dir, exc)
        return None
    for problem in problems:
        log.warning("the project's notify/evidence targets are not used: %s", problem)
    return config


def _own_drill(settings: Settings, name: str) -> Any:
    """The drill's file as it is now, for its own targets; None when it no longer loads."""
    if not settings.drills_dir.is_dir():
        return None
    try:
        drills = load_drills(settings.drills_dir)
    except Exception as exc:  # a broken drills folder must not keep a run from its outputs
        log.warning("cannot read %s for the notify/evidence targets of %s: %s", settings.drills_dir, name, exc)
        return None
    drill = drills.drills.get(name)
    if drill is None:
        log.warning("drill %s no longer loads from %s: its own notify/evidence targets are not used",
                    name, settings.drills_dir)
    return drill
