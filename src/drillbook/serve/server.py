"""``drillbook serve``: declared drills run on time, never overlapping, observable, alerting.

APScheduler 3 (BackgroundScheduler) decides *when*; this module decides *how*:
- jobs live in a SQLite job store under the state folder (:mod:`drillbook.serve.jobstore`): a restart
  keeps next run times; a run missed while the server was down is caught up once (coalesce,
  misfire grace unlimited by default); a run that was due but not started when the server
  stopped is started at the next start;
- a thread pool of ``--concurrency`` workers bounds how many drills run at once, and
  ``max_instances=1`` means one drill never runs twice at the same time;
- each run is a child process, ``drillbook run NAME --plain --trigger schedule --stop-after-rto
  3``: a crash or hang in a drill cannot take the server down. The child stops itself at 3 x RTO
  (recorded failed); the server's backstop sends SIGTERM a little later and SIGKILL after that;
- SIGTERM/SIGINT: start nothing new, let running drills finish within ``--grace``, then SIGTERM
  them (the engine records ``aborted``) and exit 0. A second signal skips the grace;
- SIGHUP, or any change in the drills folder, reloads the drills; a file that became invalid is
  reported (file:line) and the drill keeps its previous schedule;
- one structured ``key=value`` line on stderr per event (start/finish with run id, status, duration).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from drillbook.errors import CannotRun
from drillbook.outputs.runstore import RUN_FILE, read_record
from drillbook.serve import jobstore
from drillbook.serve.duestatus import allowance, due_status, recent_runs
from drillbook.serve.jobstore import SERVE_LOCK
from drillbook.serve.metrics import DrillMetrics, serve_http
from drillbook.serve.schedules import build_trigger, fingerprint
from drillbook.settings import Settings
from drillbook.spec.loader import load_drills
from drillbook.spec.models import Drill
from drillbook.status import Status
from drillbook.util.clock import iso
from drillbook.util.locks import LockBusy, file_lock
from drillbook.util.process import kill_group

UTC = UTC
BACKSTOP_MARGIN = 30.0  # after the child's own limit, before the server sends SIGTERM
STATUS_REFRESH_SECONDS = 10.0


@dataclass
class ServeOptions:
    concurrency: int = 1
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    grace: float = 300.0            # running drills may finish within this after SIGTERM
    abort_grace: float = 60.0       # after SIGTERM to a child, SIGKILL after this
    overrun_factor: float = 3.0     # a run is stopped (failed) at this multiple of its RTO
    misfire_grace: float | None = None  # None: a missed run is always caught up (once)
    poll: float = 2.0               # how often the drills folder is checked for changes


class EventLog:
    """``ts=... level=info event=drill-finish drill=x status=passed ...`` lines (logfmt)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        parts = [f"ts={iso(datetime.now(UTC))}", f"level={level}", f"event={event}"]
        parts += [f"{k}={_value(v)}" for k, v in fields.items() if v is not None]
        with self.lock:
            print(" ".join(parts), file=self.stream, flush=True)


def _value(value: Any) -> str:
    if isinstance(value, float):
        value = f"{value:.3f}"
    text = str(value)
    if not text or any(c in text for c in ' "=\n\t'):
        return json.dumps(text)
    return text


_CURRENT: Server | None = None


def run_scheduled_drill(name: str) -> None:
    """The job function the job store refers to by name (``drillbook.serve.server:run_scheduled_drill``)."""
    if _CURRENT is not None:
        _CURRENT.run_job(name)


@dataclass
class ChildRun:
    name: str
    proc: subprocess.Popen[str]
    started: float
    limit: float
    run_id: str | None = None
    term_sent: float | None = None
    killed: bool = False
    reason: str | None = None
    output: list[str] = field(default_factory=list)


class Server:
    def __init__(self, settings: Settings, options: ServeOptions, emit: EventLog | None = None):
        self.settings = settings
        self.options = options
        self.emit = emit or EventLog()
        self.stopping = threading.Event()
        self.abort_now = threading.Event()
        self.reload_requested = threading.Event()
        self.state_lock = threading.RLock()
        self.drills: dict[str, Drill] = {}
        self.files: dict[str, Path] = {}
        self.children: dict[str, ChildRun] = {}
        self.metrics = DrillMetrics()
        self.scheduler: Any = None
        self.book: jobstore.DrillBook | None = None
        self.folder_signature: Any = None
        self.http: Any = None
        self.exit_stack = ExitStack()  # holds the state folder's serve lock while serving

    # -- lifecycle -----------------------------------------------------------------------------
    def serve(self) -> int:
        global _CURRENT
        self._take_lock()
        conn = jobstore.connect(jobstore.db_path(self.settings.state_dir))
        db_lock = threading.RLock()
        self.book = jobstore.DrillBook(conn, db_lock)
        self.scheduler = self._make_scheduler(jobstore.SqliteJobStore(conn, db_lock))
        _CURRENT = self
        self._install_signals()
        self._reap_stale_runs()
        try:
            self.scheduler.start(paused=True)
            self.reload(initial=True)
            self._start_http()
            self.scheduler.resume()
            self.emit("serve-start", pid=os.getpid(), concurrency=self.options.concurrency,
                      drills=len(self.drills), state=str(jobstore.db_path(self.settings.state_dir)))
            self._main_loop()
            self._stop()
        finally:
            _CURRENT = None
            if self.http:
                self.http.shutdown()
            conn.close()
            self.exit_stack.close()
        self.emit("serve-stop", exit=0)
        return 0

    def _reap_stale_runs(self) -> None:
        """Runs left ``running`` by a crashed drillbook are finished as aborted before we start."""
        from drillbook.sandbox.reaper import reap_stale_runs

        for reaped in reap_stale_runs(self.settings):
            self.emit("stale-run-reaped", drill=reaped.drill, run_id=reaped.run_id)

    def _make_scheduler(self, store: jobstore.SqliteJobStore) -> Any:
        from apscheduler.events import (
            EVENT_JOB_ERROR,
            EVENT_JOB_MAX_INSTANCES,
            EVENT_JOB_MISSED,
            EVENT_JOB_SUBMITTED,
        )
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        server = self

        class MarkingExecutor(ThreadPoolExecutor):
            """Marks a run as due-but-not-started before it is queued (no race with the start)."""

            def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
                server._mark_pending(job.id, run_times)
                super()._do_submit_job(job, run_times)

        logging.getLogger("apscheduler").setLevel(logging.ERROR)  # we log our own events
        scheduler = BackgroundScheduler(
            jobstores={"default": store},
            executors={"default": MarkingExecutor(max_workers=self.options.concurrency)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.options.misfire_grace},
            timezone=UTC,
        )
        scheduler.add_listener(self._on_job_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES
                               | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        return scheduler

    def _take_lock(self) -> None:
        """One server per state folder: two would run every drill twice."""
        path = self.settings.state_dir / SERVE_LOCK
        try:
            fd = self.exit_stack.enter_context(file_lock(path, timeout=0, mode=0o644))
        except LockBusy:
            other = path.read_text(encoding="utf-8").strip() or "?"
            raise CannotRun(f"another drillbook serve (pid {other}) uses the state folder "
                            f"{self.settings.state_dir}; stop it or give --state") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)

    def _install_signals(self) -> None:
        def stop(signum: int, _frame: Any) -> None:
            if self.stopping.is_set():
                self.abort_now.set()
            self.stopping.set()
            self.stop_signal = signal.Signals(signum).name

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def _start_http(self) -> None:
        if self.options.metrics_port is None:
            return
        try:
            self.http = serve_http(self.metrics, self.options.metrics_host, self.options.metrics_port,
                                   self.health)
        except OSError as exc:
            raise CannotRun(f"cannot serve metrics on {self.options.metrics_host}:"
                            f"{self.options.metrics_port}: {exc.strerror or exc}") from None
        host, port = self.http.server_address[:2]
        self.emit("metrics-listening", url=f"http://{host}:{port}/metrics")

    def health(self) -> dict[str, Any]:
        running = self.scheduler is not None and self.scheduler.running and not self.stopping.is_set()
        return {"ok": running, "status": "serving" if running else "stopping",
                "drills": len(self.drills), "running": sorted(self.children)}

    def _main_loop(self) -> None:
        last_refresh = 0.0
        while not self.stopping.wait(min(self.options.poll, 1.0)):
            if self.reload_requested.is_set() or self._folder_changed():
                self.reload_requested.clear()
                self.reload()
            if time.monotonic() - last_refresh >= STATUS_REFRESH_SECONDS:
                self.refresh_status()
                last_refresh = time.monotonic()

    def _stop(self) -> None:
        running = sorted(self.children)
        self.emit("serve-stopping", signal=getattr(self, "stop_signal", None),
                  running=",".join(running) or "none", grace=self.options.grace)
        self.scheduler.pause()
        deadline = time.monotonic() + self.options.grace
        while self.children and time.monotonic() < deadline and not self.abort_now.is_set():
            self.abort_now.wait(0.2)
        if self.children:
            self.emit("abort-running", level="warning", drills=",".join(sorted(self.children)))
            self.abort_now.set()
        deadline = time.monotonic() + self.options.abort_grace + 5
        while self.children and time.monotonic() < deadline:
            time.sleep(0.1)
        self.scheduler.shutdown(wait=False)

    # -- loading drills ------------------------------------------------------------------------
    def _folder_changed(self) -> bool:
        signature = folder_signature(self.settings.drills_dir)
        changed = self.folder_signature is not None and signature != self.folder_signature
        self.folder_signature = signature
        return changed

    def reload(self, initial: bool = False) -> None:
        """Load the drills folder and make the job store match it (invalid files keep their schedule)."""
        self.folder_signature = folder_signature(self.settings.drills_dir)
        loaded = load_drills(self.settings.drills_dir)
        bad_files = {p.file for p in loaded.problems}
        for problem in loaded.problems:
            self.emit("spec-problem", level="error", problem=str(problem))
        self.metrics.spec_problems.set(len(loaded.problems))
        drills, files = dict(loaded.drills), dict(loaded.files)
        kept = set()
        for name, previous in self.drills.items():
            if name not in drills and self.files.get(name) in bad_files:
                drills[name], files[name] = previous, self.files[name]
                kept.add(name)
                self.emit("schedule-kept", level="warning", drill=name, file=str(self.files[name]),
                          reason="the file is invalid; its previous schedule stays until it is fixed")
        with self.state_lock:
            self.drills, self.files = drills, files
        self._sync_jobs(drills, keep_stored={jobstore.job_id(f.stem) for f in bad_files}, initial=initial)
        self.refresh_status()
        if not initial:
            self.emit("reloaded", drills=len(drills), problems=len(loaded.problems),
                      kept=",".join(sorted(kept)) or None)

    def _sync_jobs(self, drills: dict[str, Drill], keep_stored: set[str], initial: bool) -> None:
        assert self.book is not None
        stored = {job.id: job for job in self.scheduler.get_jobs()}
        now = time.time()
        for name, drill in sorted(drills.items()):
            self.metrics.declare(name, drill)
            if not drill.schedule:
                continue
            jid = jobstore.job_id(name)
            fp = fingerprint(drill.schedule, drill.timezone, float(drill.jitter) if drill.jitter else None)
            trigger = build_trigger(drill.schedule, drill.timezone, float(drill.jitter) if drill.jitter else None)
            job = stored.pop(jid, None)
            if job is None:
                job = self.scheduler.add_job(run_scheduled_drill, trigger=trigger, id=jid, name=fp,
                                             args=[name])
                event = "drill-scheduled"
            elif job.name != fp:
                self.scheduler.modify_job(jid, name=fp)
                job = self.scheduler.reschedule_job(jid, trigger=trigger)
                event = "drill-rescheduled"
            else:
                event = "drill-scheduled" if initial else ""
            self.book.set_schedule(name, fp, now)
            if initial and self._pending(name):
                job = self.scheduler.modify_job(jid, next_run_time=datetime.now(UTC))
                event = "drill-catch-up"
            if event:
                self.emit(event, drill=name, schedule=drill.schedule, timezone=drill.timezone,
                          next_run=iso(job.next_run_time))
        for jid, job in stored.items():
            name = jid[len(jobstore.JOB_PREFIX):]
            if jid in keep_stored:
                self.emit("schedule-kept", level="warning", drill=name,
                          reason="the file is invalid; the stored schedule stays until it is fixed")
                continue
            self.scheduler.remove_job(jid)
            self.book.forget(name)
            if name not in drills:  # a drill that only lost its schedule is still declared
                self.metrics.forget(name)
            self.emit("drill-unscheduled", drill=name)
        for name in set(self.metrics.known) - set(drills):
            self.metrics.forget(name)

    def _pending(self, name: str) -> bool:
        row = self.book.get(name) if self.book else None
        return bool(row and row[2])

    def refresh_status(self) -> None:
        """Last runs, next runs and the overdue flag into the metrics (runs by people included)."""
        stored = {job.id: job.next_run_time for job in self.scheduler.get_jobs()}
        book = {name: self.book.get(name) for name in self.drills} if self.book else {}
        now = datetime.now(UTC)
        for name, drill in list(self.drills.items()):
            runs = recent_runs(self.settings.reports_dir, name)
            row = book.get(name)
            since = datetime.fromtimestamp(row[1], UTC) if row else None
            status = due_status(drill, runs, now, stored_next=stored.get(jobstore.job_id(name)),
                                scheduled_since=since, overrun_factor=self.options.overrun_factor)
            success = next((r for r in runs if r.get("status") == Status.PASSED), None)
            self.metrics.set_last(name, status.last_record, success)
            self.metrics.set_schedule(name, status.next_run.timestamp() if status.next_run else None,
                                      status.overdue)

    # -- running one drill (executor thread) ----------------------------------------------------
    def _on_job_event(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_SUBMITTED

        name = str(event.job_id)[len(jobstore.JOB_PREFIX):]
        if event.code == EVENT_JOB_SUBMITTED:
            due = event.scheduled_run_times[-1] if event.scheduled_run_times else None
            if due and (datetime.now(UTC) - due).total_seconds() > 5:
                self.emit("drill-catch-up", drill=name, due=iso(due))
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self.emit("drill-skipped", level="warning", drill=name,
                      reason="the previous run of this drill is still running or queued")
        elif event.code == EVENT_JOB_ERROR:
            self.emit("job-error", level="error", drill=name, error=repr(event.exception))
        else:
            self.emit("drill-missed", level="warning", drill=name,
                      due=iso(getattr(event, "scheduled_run_time", None)))

    def _mark_pending(self, jid: str, run_times: list[datetime]) -> None:
        if self.book:
            due = run_times[-1].timestamp() if run_times else time.time()
            self.book.set_pending(jid[len(jobstore.JOB_PREFIX):], due)

    def run_job(self, name: str) -> None:
        if self.stopping.is_set():
            self.emit("drill-deferred", drill=name, reason="server stopping; runs at the next start")
            return
        with self.state_lock:
            drill = self.drills.get(name)
        if drill is None:
            return
        if self.book:
            self.book.set_pending(name, None)
        started = time.monotonic()
        self.metrics.running.labels(name).set(1)
        try:
            child = self._run_child(name, drill)
        finally:
            self.metrics.running.labels(name).set(0)
        self._finished(name, drill, child, time.monotonic() - started)

    def _run_child(self, name: str, drill: Drill) -> ChildRun:
        limit = self.options.overrun_factor * float(drill.objectives.rto)
        proc = subprocess.Popen(
            child_argv(self.settings, name, self.options.overrun_factor),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, errors="replace", start_new_session=True,
        )
        child = ChildRun(name, proc, time.monotonic(), limit)
        with self.state_lock:
            self.children[name] = child
        readers = [threading.Thread(target=self._read, args=(child, stream), daemon=True)
                   for stream in (proc.stdout, proc.stderr)]
        for reader in readers:
            reader.start()
        try:
            self._watch(child)
        finally:
            for reader in readers:
                reader.join(timeout=5)
            with self.state_lock:
                self.children.pop(name, None)
        return child

    def _watch(self, child: ChildRun) -> None:
        backstop = child.started + child.limit + BACKSTOP_MARGIN
        while True:
            try:
                child.proc.wait(timeout=0.2)
                return
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if child.term_sent is None and (self.abort_now.is_set() or now > backstop):
                child.reason = ("server stopping" if self.abort_now.is_set()
                                else f"still running {BACKSTOP_MARGIN:g}s after its limit "
                                     f"({self.options.overrun_factor:g} x RTO)")
                self.emit("drill-terminate", level="warning", drill=child.name, run_id=child.run_id,
                          reason=child.reason)
                kill_group(child.proc.pid, signal.SIGTERM)
                child.term_sent = now
            elif child.term_sent is not None and not child.killed and \
                    now > child.term_sent + self.options.abort_grace:
                self.emit("drill-kill", level="error", drill=child.name, run_id=child.run_id,
                          reason=f"no exit {self.options.abort_grace:g}s after SIGTERM")
                kill_group(child.proc.pid, signal.SIGKILL)
                child.killed = True

    def _read(self, child: ChildRun, stream: Any) -> None:
        for line in stream:
            line = line.rstrip("\n")
            if child.run_id is None and "event=start" in line and "run_id=" in line:
                child.run_id = line.split("run_id=", 1)[1].split()[0]
                self.emit("drill-start", drill=child.name, run_id=child.run_id, pid=child.proc.pid)
            child.output.append(line)
            del child.output[:-40]

    def _finished(self, name: str, drill: Drill, child: ChildRun, duration: float) -> None:
        record = None
        if child.run_id:
            record = read_record(self.settings.reports_dir / name / child.run_id / RUN_FILE)
        rc = child.proc.returncode
        status = record.get("status") if record else None
        if status not in (Status.PASSED, Status.FAILED, Status.ABORTED):
            status = Status.FAILED if child.killed or child.term_sent else "error"
        reason = (record or {}).get("reason")
        if record is None or record.get("status") == Status.RUNNING:
            tail = [line for line in child.output if "event=" not in line][-5:]
            reason = child.reason or "; ".join(tail)[-500:] or f"the run exited with {rc}"
        self.metrics.observe_run(name, status, duration)
        self.emit("drill-finish", level="info" if status == Status.PASSED else "warning", drill=name,
                  run_id=child.run_id, status=status, duration=duration, exit=rc, reason=reason,
                  report=str(self.settings.reports_dir / name / child.run_id / "report.html")
                  if child.run_id and record else None)
        try:
            self.refresh_status()
        except Exception as exc:  # metrics are a view; never let them break the run loop
            self.emit("metrics-error", level="warning", error=repr(exc))


def child_argv(settings: Settings, name: str, overrun_factor: float) -> list[str]:
    """The child runs with the server's folders, given explicitly (never through a shell)."""
    folders = [("--drills", settings.drills_dir), ("--reports", settings.reports_dir),
               ("--sandbox-root", settings.sandbox_root), ("--state", settings.state_dir),
               ("--runbooks", settings.runbooks_dir)]
    argv = [sys.executable, "-m", "drillbook"]
    for flag, path in folders:
        argv += [flag, str(Path(path).absolute())]
    return argv + ["run", name, "--plain", "--trigger", "schedule",
                   "--stop-after-rto", f"{overrun_factor:g}"]


def folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of the drill files: a cheap poll that needs no inotify."""
    out = []
    try:
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((path.name, st.st_mtime_ns, st.st_size))
    except OSError:
        pass
    return tuple(out)


def serve(settings: Settings, options: ServeOptions, emit: EventLog | None = None) -> int:
    return Server(settings, options, emit).serve()


__all__ = ["EventLog", "ServeOptions", "Server", "allowance", "child_argv", "serve"]
