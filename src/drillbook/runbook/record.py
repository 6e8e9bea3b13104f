"""The runbook run record (``reports/runbooks/<name>/<run_id>/run.json``) and its resume point.

Like a drill's record it is the single source of truth: written ``running`` at the start,
rewritten after every step (so a crash leaves the progress), and re-read by ``resume``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from drillbook import __version__
from drillbook.drill.record import process_info
from drillbook.outputs.runstore import RUN_FILE, read_record, run_dir
from drillbook.runbook.model import Runbook
from drillbook.status import Status
from drillbook.util.atomic import make_folders, write_bytes_atomic, write_json_atomic
from drillbook.util.plain import strip_controls_in

DONE = {Status.PASSED, Status.CONFIRMED, Status.SKIPPED}
#: Where a resumed run keeps the files of its earlier attempts (see keep_attempt).
ATTEMPTS_DIR = "attempts"


@dataclass
class StepResult:
    index: int
    title: str
    kind: str
    status: str = Status.NOT_RUN
    reason: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    attempt: int | None = None
    operator: str | None = None
    confirmed_by: str | None = None
    confirmed_via: str | None = None  # terminal, stdin or --yes
    confirmed_at: str | None = None
    exit_code: int | None = None
    output_tail: list[str] = field(default_factory=list)
    drill_runs: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier attempts of this step

    def archive(self) -> None:
        """Keep this attempt's result in ``history`` before the step runs again."""
        if self.status == Status.NOT_RUN:
            return
        past = {k: v for k, v in asdict(self).items() if k not in ("index", "title", "kind", "history")}
        self.history.append(past)
        fresh = StepResult(self.index, self.title, self.kind)
        for f in fields(self):
            if f.name != "history":
                setattr(self, f.name, getattr(fresh, f.name))


@dataclass
class Attempt:
    number: int
    started_at: str
    operator: str
    from_step: int
    confirmations: str  # "--yes", "terminal" or "stdin"
    runbook_sha256: str
    finished_at: str | None = None
    status: str = Status.RUNNING


@dataclass
class RunbookRecord:
    run_id: str
    runbook: str
    title: str
    owner: str
    operator: str
    started_at: str
    file: str
    kind: str = "runbook"
    status: str = Status.RUNNING
    reason: str | None = None
    finished_at: str | None = None
    objectives: dict[str, Any] = field(default_factory=dict)
    elapsed_seconds: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)  # of the last finish
    versions: dict[str, str] = field(default_factory=dict)
    process: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, runbook: Runbook, run_id: str, operator: str, started_at: str) -> RunbookRecord:
        rto = runbook.rto
        objectives = {"rto": None if rto is None else {
            "target": rto.text, "target_seconds": float(rto), "measured_seconds": None, "met": None}}
        return cls(run_id=run_id, runbook=runbook.name, title=runbook.title, owner=runbook.meta.owner,
                   operator=operator, started_at=started_at, file=str(runbook.path),
                   objectives=objectives,
                   steps=[StepResult(s.index, s.title, s.kind) for s in runbook.steps],
                   versions={"drillbook": __version__}, process=process_info(None))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunbookRecord:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["attempts"] = [_build(Attempt, a) for a in data.get("attempts", [])]
        values["steps"] = [_build(StepResult, s) for s in data.get("steps", [])]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resume_index(self) -> int | None:
        """0-based index of the first step not done (the failed or aborted one), or None."""
        return next((i for i, s in enumerate(self.steps) if s.status not in DONE), None)

    @property
    def attempt(self) -> Attempt:
        return self.attempts[-1]


def _build(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


def record_dir(reports: Path, runbook: str, run_id: str) -> Path:
    return run_dir(reports, runbook, run_id, kind="runbook")


def save(record: RunbookRecord, folder: Path) -> None:
    """run.json as the run goes; a step's output is filtered as in every record
    (:func:`drillbook.outputs.finish.as_recorded`)."""
    write_json_atomic(folder / RUN_FILE, strip_controls_in(record.to_dict()))


def keep_attempt(folder: Path, number: int) -> Path:
    """Copy the run folder's files, as the attempt that just ended left (and sealed) them, into
    ``attempts/<number>/`` before the next attempt rewrites them: every attempt's record stays,
    and the next seal covers the copies, so the verifier can tell the earlier entry was kept."""
    kept = folder / ATTEMPTS_DIR / str(number)
    make_folders(kept)
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            write_bytes_atomic(kept / path.name, path.read_bytes())
    return kept


def find_run(reports: Path, run_id: str) -> Path | None:
    """The folder of runbook run ``run_id``, whichever runbook it belongs to."""
    base = reports / "runbooks"
    if not base.is_dir() or "/" in run_id or run_id in ("", ".", ".."):
        return None
    matches = sorted(p.parent for p in base.glob(f"*/{run_id}/{RUN_FILE}"))
    return matches[0] if matches else None


def load(folder: Path) -> RunbookRecord | None:
    data = read_record(folder / RUN_FILE)
    if not data or data.get("kind") != "runbook":
        return None
    return RunbookRecord.from_dict(data)


def last_runs(reports: Path) -> dict[str, dict[str, Any]]:
    """Newest record per runbook, for ``runbook list``."""
    newest: dict[str, dict[str, Any]] = {}
    base = reports / "runbooks"
    if not base.is_dir():
        return newest
    for path in base.glob(f"*/*/{RUN_FILE}"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = data.get("runbook") or path.parent.parent.name
        if name not in newest or (data.get("started_at") or "") > (newest[name].get("started_at") or ""):
            newest[name] = data
    return newest
