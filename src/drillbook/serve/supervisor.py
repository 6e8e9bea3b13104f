"""One scheduled run as a child process, ``drillbook run NAME --run-id ID``, watched to its end.

Each run is its own process in its own session: a crash or hang in a drill cannot take the
server down, and the whole process group can be signalled. The server names the run
(:func:`~drillbook.outputs.runstore.new_run_id`) and tells the child, so the server's events, the
run folder and ``run.json`` agree without reading anything the child prints.

A drill another process runs (a ``drillbook run`` from cron holds its lock, see
drill/runlock.py) is not started: the outcome is ``skipped``, naming that run. Should one take the
lock between this look and the child's start, the child exits 3 and its message is the reason.

The child stops itself at ``overrun_factor`` x RTO (recorded failed). If it still runs
:data:`BACKSTOP_MARGIN` seconds later, or the server is aborting its runs, it gets SIGTERM (the
engine records ``aborted``), and SIGKILL ``abort_grace`` seconds after that. The outcome comes
from ``run.json``; without one, from the last lines the child printed.

The child counts the failures of its post-run steps (notifications, WORM uploads, the ledger seal)
into a metrics textfile in the state folder (:func:`child_metrics_file`); the server adds them to
its own counters and removes the file (see :meth:`DrillMetrics.absorb_failures`).

The child logs in the server's format and level (:mod:`drillbook.util.logformat`, passed as
``DRILLBOOK_LOG_FORMAT`` and ``DRILLBOOK_LOG_LEVEL``); each record
it writes on stderr is logged again by the server as that same record, with the drill and run id
as fields: one line per record in the server's log, never a line quoted inside another.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.drill import runlock
from drillbook.outputs.runstore import RUN_FILE, new_run_id, read_record, run_dir
from drillbook.serve.events import Emit
from drillbook.settings import Settings
from drillbook.status import Status
from drillbook.util import logformat
from drillbook.util.atomic import make_folders
from drillbook.util.process import kill_group

BACKSTOP_MARGIN = 30.0  # after the child's own limit, before the server sends SIGTERM
CHILD_METRICS = "run-metrics"  # state folder: each child's metrics textfile until the server reads it
OUTPUT_LINES = 40       # kept from the child's output, for a reason when it leaves no record
POLL = 0.2
CHILD_LOGGER = "drillbook.run"  # whose a line of the child's stderr is when it is not a record

ArgvFor = Callable[[str, str], list[str]]  # (drill name, run id) -> the child's command line


@dataclass
class ChildRun:
    """One child process and what the server knows about it."""

    name: str
    run_id: str
    proc: subprocess.Popen[str]
    started: float
    limit: float
    recorded: bool = False  # the child wrote its run.json: the run exists under run_id
    term_sent: float | None = None
    killed: bool = False
    reason: str | None = None
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES))

    @property
    def known_id(self) -> str | None:
        """The run id once the run exists; events never name a run folder that was not written."""
        return self.run_id if self.recorded else None


@dataclass(frozen=True)
class ChildOutcome:
    name: str
    run_id: str | None  # None when the child never recorded the run
    status: str
    reason: str | None
    exit: int | None
    duration: float
    report: Path | None
    metrics: Path | None = None  # the child's metrics textfile, when it was started


class Supervisor:
    """Starts children, watches their time, stops them, and reads their outcome."""

    def __init__(self, settings: Settings, emit: Emit, abort_now: threading.Event, *,
                 overrun_factor: float, abort_grace: float, backstop_margin: float = BACKSTOP_MARGIN,
                 argv_for: ArgvFor | None = None):
        self.reports = settings.reports_dir
        self.state_dir = settings.state_dir
        self.emit = emit
        self.abort_now = abort_now
        self.overrun_factor = overrun_factor
        self.abort_grace = abort_grace
        self.backstop_margin = backstop_margin
        self.argv_for = argv_for or (lambda name, run_id: child_argv(settings, name, run_id, overrun_factor))
        self.lock = threading.Lock()
        self.children: dict[str, ChildRun] = {}

    def running(self) -> list[str]:
        with self.lock:
            return sorted(self.children)

    def run(self, name: str, rto: float) -> ChildOutcome:
        """Run drill ``name`` to its end (``rto`` in seconds sets the limit); never raises for the run."""
        started = time.monotonic()
        holder = runlock.busy_with(self.state_dir, name)
        if holder:
            return ChildOutcome(name, None, Status.SKIPPED,
                                f"not started: it is already being run by another drillbook process ({holder})",
                                None, time.monotonic() - started, None)
        run_id = new_run_id()
        make_folders(self.state_dir / CHILD_METRICS)
        proc = subprocess.Popen(
            self.argv_for(name, run_id),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(),
            text=True, errors="replace", start_new_session=True,
        )
        child = ChildRun(name, run_id, proc, started, self.overrun_factor * rto)
        with self.lock:
            self.children[name] = child
        readers = [threading.Thread(target=_read, args=(child, proc.stdout), daemon=True),
                   threading.Thread(target=_forward, args=(child, proc.stderr, logformat.active().form),
                                    daemon=True)]
        for reader in readers:
            reader.start()
        try:
            self._watch(child)
        finally:
            for reader in readers:
                reader.join(timeout=5)
            with self.lock:
                self.children.pop(name, None)
        self._notice_record(child)
        return self._outcome(child, time.monotonic() - started)

    def _watch(self, child: ChildRun) -> None:
        backstop = child.started + child.limit + self.backstop_margin
        while True:
            try:
                child.proc.wait(timeout=POLL)
                return
            except subprocess.TimeoutExpired:
                pass
            self._notice_record(child)
            now = time.monotonic()
            if child.term_sent is None and (self.abort_now.is_set() or now > backstop):
                self._terminate(child, now)
            elif child.term_sent is not None and not child.killed and now > child.term_sent + self.abort_grace:
                self._kill(child)

    def _notice_record(self, child: ChildRun) -> None:
        """The run exists once its run.json does (the engine writes it before it starts work)."""
        if not child.recorded and (self._run_dir(child) / RUN_FILE).exists():
            child.recorded = True
            self.emit("drill-start", drill=child.name, run_id=child.run_id, pid=child.proc.pid)

    def _terminate(self, child: ChildRun, now: float) -> None:
        child.reason = ("server stopping" if self.abort_now.is_set()
                        else f"still running {self.backstop_margin:g}s after its limit "
                             f"({self.overrun_factor:g} x RTO)")
        self.emit("drill-terminate", level="warning", drill=child.name, run_id=child.known_id,
                  reason=child.reason)
        kill_group(child.proc.pid, signal.SIGTERM)
        child.term_sent = now

    def _kill(self, child: ChildRun) -> None:
        self.emit("drill-kill", level="error", drill=child.name, run_id=child.known_id,
                  reason=f"no exit {self.abort_grace:g}s after SIGTERM")
        kill_group(child.proc.pid, signal.SIGKILL)
        child.killed = True

    def _outcome(self, child: ChildRun, duration: float) -> ChildOutcome:
        record = read_record(self._run_dir(child) / RUN_FILE) if child.recorded else None
        rc = child.proc.returncode
        status = record.get("status") if record else None
        if status not in (Status.PASSED, Status.FAILED, Status.ABORTED):
            status = Status.FAILED if child.killed or child.term_sent else Status.ERROR
        reason = (record or {}).get("reason")
        if record is None or record.get("status") == Status.RUNNING:
            tail = [line for line in child.output if "event=" not in line][-5:]
            reason = child.reason or "; ".join(tail)[-500:] or f"the run exited with {rc}"
        report = self._run_dir(child) / "report.html" if record else None
        return ChildOutcome(child.name, child.known_id, str(status), reason, rc, duration, report,
                            child_metrics_file(self.state_dir, child.run_id))

    def _run_dir(self, child: ChildRun) -> Path:
        return run_dir(self.reports, child.name, child.run_id)


def _read(child: ChildRun, stream: Iterable[str]) -> None:
    for line in stream:
        child.output.append(line.rstrip("\n"))


def child_metrics_file(state_dir: Path, run_id: str) -> Path:
    return Path(state_dir).absolute() / CHILD_METRICS / f"{run_id}.prom"


def _forward(child: ChildRun, stream: Iterable[str], form: str) -> None:
    """The child's log records into the server's log, each as itself plus whose it is; a line
    that is not a record (a progress line in text format, a crash's traceback) becomes one."""
    for line in stream:
        text = line.rstrip("\n")
        if not text:
            continue
        parsed = logformat.parse_line(text, form) or logformat.ParsedLine(None, "info", CHILD_LOGGER, text, {})
        if "event" not in parsed.fields:  # progress events are not reasons
            child.output.append(parsed.msg)
        logformat.forward(parsed, drill=child.name, run_id=child.run_id)


def child_env() -> dict[str, str]:
    """The server's environment, and its log format and level: the child logs as the server does."""
    return {**os.environ, **logformat.environment(logformat.active())}


def child_argv(settings: Settings, name: str, run_id: str, overrun_factor: float) -> list[str]:
    """The child runs with the server's folders, given explicitly (never through a shell)."""
    folders = [("--drills", settings.drills_dir), ("--reports", settings.reports_dir),
               ("--sandbox-root", settings.sandbox_root), ("--state", settings.state_dir),
               ("--runbooks", settings.runbooks_dir), ("--cache", settings.cache_dir)]
    argv = [sys.executable, "-m", "drillbook"]
    for flag, path in folders:
        argv += [flag, str(Path(path).absolute())]
    return [*argv, "run", name, "--plain", "--trigger", "schedule",
            "--stop-after-rto", f"{overrun_factor:g}",
            "--metrics-textfile", str(child_metrics_file(settings.state_dir, run_id)), "--run-id", run_id]
