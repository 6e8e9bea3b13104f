"""``drillbook serve``: declared drills run on time, never overlapping, observable, alerting.

This module is the server's lifecycle only; each part of the work has its own module:

- :mod:`~drillbook.serve.jobstore`: drillbook's bookkeeping in SQLite under the state folder, so a
  restart keeps next run times and a run missed while it was down is caught up at the next start;
- :mod:`~drillbook.serve.jobs`: (re)loading the drills folder and making the jobs match it;
- :mod:`~drillbook.serve.runner`: the scheduler, and what a fired job does;
- :mod:`~drillbook.serve.supervisor`: each run as a child process, stopped when it overruns;
- :mod:`~drillbook.serve.events`: one structured ``key=value`` line on stderr per event;
- :mod:`~drillbook.serve.sdnotify`: what systemd is told (ready, reloading, stopping, status, watchdog).

Here: one server per state folder (a lock), signals, the main loop, and the stop. SIGTERM/SIGINT
start nothing new, let running drills finish within ``--grace``, then SIGTERM them (the engine
records ``aborted``) and exit 0; a second signal skips the grace. SIGHUP, or any change in the
drills folder, reloads the drills.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from drillbook.backends.restic import installed_version
from drillbook.errors import CannotRun
from drillbook.outputs import faults
from drillbook.sandbox.reaper import reap_stale_runs
from drillbook.serve import jobstore
from drillbook.serve.events import Emit, EventLog
from drillbook.serve.jobs import JobSync, Reloader, Roster
from drillbook.serve.metrics import DrillMetrics, serve_http
from drillbook.serve.runner import ScheduledRuns, make_scheduler
from drillbook.serve.sdnotify import Notifier
from drillbook.serve.supervisor import Supervisor
from drillbook.settings import Settings
from drillbook.sites.central import Central, connect
from drillbook.sites.scheduled import SiteRuns
from drillbook.spec.loader import load_project
from drillbook.util.clock import iso
from drillbook.util.locks import LockBusy, file_lock, say_holder

STATUS_REFRESH_SECONDS = 10.0
ABORT_WAIT_MARGIN = 5.0  # after abort_grace, how long the stop still waits for killed children
SITE_SLOTS = 64  # with site workers: runs the scheduler may wait for at once


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


class Server:
    def __init__(self, settings: Settings, options: ServeOptions, emit: Emit | None = None,
                 notifier: Notifier | None = None):
        self.settings = settings
        self.options = options
        self.emit = emit or EventLog()
        self.notifier = notifier or Notifier(None)
        self.book: jobstore.DrillBook | None = None
        self.last_status: str | None = None
        self.stopping = threading.Event()
        self.abort_now = threading.Event()
        self.reload_requested = threading.Event()
        self.stop_signal: str | None = None
        self.metrics = DrillMetrics()
        self.roster = Roster()
        self.project, _problems = load_project(settings.drills_dir)
        self.supervisor: Supervisor | SiteRuns = Supervisor(
            settings, self.emit, self.abort_now, overrun_factor=options.overrun_factor,
            abort_grace=options.abort_grace)
        if self.project.workers is not None:  # site workers: runs are dispatched, not started here
            app = connect(self.project.workers, settings.drills_dir)
            central = Central(settings, self.project, app, emit=self.emit,
                              on_closed=lambda row, status: self.metrics.site_runs.labels(
                                  row.site, row.drill, status).inc())
            self.supervisor = SiteRuns(central, self.roster.get,
                                       self.emit, self.abort_now, overrun_factor=options.overrun_factor,
                                       reports=settings.reports_dir)
        self.scheduler: BackgroundScheduler | None = None
        self.http: ThreadingHTTPServer | None = None
        self.folder_signature: tuple[tuple[str, int, int], ...] | None = None
        self.exit_stack = ExitStack()  # holds the state folder's serve lock while serving

    def serve(self) -> int:
        self._take_lock()
        self._count_failures()
        conn = jobstore.connect(jobstore.db_path(self.settings.state_dir))
        self.exit_stack.callback(conn.close)
        db_lock = threading.RLock()
        self.book = book = jobstore.DrillBook(conn, db_lock)
        runs = ScheduledRuns(self.settings, self.roster, book, self.supervisor, self.metrics, self.emit,
                             self.stopping, self.options.overrun_factor)
        self.scheduler = scheduler = make_scheduler(runs, self._slots(), self.options.misfire_grace)
        runs.sync = sync = JobSync(scheduler, book, self.emit, runner=runs.run,
                                   reports_dir=self.settings.reports_dir, misfire_grace=self.options.misfire_grace)
        self.reloader = Reloader(self.settings, self.roster, sync, self.metrics, self.emit, runs.refresh_status)
        self._install_signals()
        self._reap_stale_runs()
        self._poll_sites()
        try:
            scheduler.start(paused=True)
            self.reload(initial=True)
            self._start_http()
            scheduler.resume()
            self.emit("serve-start", pid=os.getpid(), concurrency=self.options.concurrency,
                      drills=len(self.roster), state=str(jobstore.db_path(self.settings.state_dir)))
            self.notifier.ready(self._status())
            self._main_loop(runs)
            self._stop(scheduler)
        finally:
            if self.http:
                self.http.shutdown()
            self.exit_stack.close()
        self.emit("serve-stop", exit=0)
        return 0

    def _slots(self) -> int:
        """Runs at once: --concurrency locally; with site workers each waits for a remote run, so one
        site never waits behind another (the workers' own --concurrency bounds the work)."""
        return max(self.options.concurrency, SITE_SLOTS) if isinstance(self.supervisor, SiteRuns) else \
            self.options.concurrency

    def _poll_sites(self) -> None:
        if isinstance(self.supervisor, SiteRuns):
            self.supervisor.start_polling()
            self.exit_stack.callback(self.supervisor.stop_polling, self.options.abort_grace)

    def reload(self, initial: bool = False) -> None:
        self.folder_signature = folder_signature(self.settings.drills_dir)
        self.reloader.reload(initial)

    def health(self) -> dict[str, Any]:
        running = self.scheduler is not None and self.scheduler.running and not self.stopping.is_set()
        return {"ok": running, "status": "serving" if running else "stopping",
                "drills": len(self.roster), "running": self.supervisor.running()}

    def _take_lock(self) -> None:
        """One server per state folder: two would run every drill twice."""
        path = self.settings.state_dir / jobstore.SERVE_LOCK
        try:
            fd = self.exit_stack.enter_context(file_lock(path, timeout=0, mode=0o644))
        except LockBusy as busy:
            raise CannotRun(f"another drillbook serve (pid {busy.holder or '?'}) uses the state folder "
                            f"{self.settings.state_dir}; stop it or give --state") from None
        say_holder(fd, str(os.getpid()))

    def _count_failures(self) -> None:
        """build_info, and the failures of post-run steps this process runs (stale runs it finishes;
        its children's come from their metrics files: see ScheduledRuns)."""
        self.metrics.set_build(installed_version())
        faults.add_listener(self.metrics.count_failure)
        self.exit_stack.callback(faults.remove_listener, self.metrics.count_failure)

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        """The first signal stops gracefully; a second one aborts running drills now."""
        if self.stopping.is_set():
            self.abort_now.set()
        self.stopping.set()
        self.stop_signal = signal.Signals(signum).name

    def _reap_stale_runs(self) -> None:
        """Runs left ``running`` by a crashed drillbook are finished as aborted before we start."""
        for reaped in reap_stale_runs(self.settings):
            self.emit("stale-run-reaped", drill=reaped.drill, run_id=reaped.run_id)

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
        self.emit("metrics-listening", url=f"http://{host!s}:{port}/metrics")

    def _main_loop(self, runs: ScheduledRuns) -> None:
        last_refresh = 0.0
        while not self.stopping.wait(self._tick()):
            self.notifier.beat()
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.notifier.reloading()
                self.reload()
                self.notifier.ready(self._status())
            elif self._folder_changed():
                self.reload()
            if time.monotonic() - last_refresh >= STATUS_REFRESH_SECONDS:
                runs.refresh_status()
                last_refresh = time.monotonic()
            self._tell_status()

    def _tick(self) -> float:
        """How long the loop sleeps: the drills folder's poll, and often enough for the watchdog."""
        return min(self.options.poll, 1.0, self.notifier.watchdog_interval or 1.0)

    def _status(self) -> str:
        self.last_status = status_line(self.book.next_runs() if self.book else {}, self.supervisor.running())
        return self.last_status

    def _tell_status(self) -> None:
        """systemctl status shows the line; sent when it changed."""
        previous = self.last_status
        if self.notifier.enabled and self._status() != previous:
            self.notifier.status(self.last_status or "")

    def _folder_changed(self) -> bool:
        signature = folder_signature(self.settings.drills_dir)
        changed = self.folder_signature is not None and signature != self.folder_signature
        self.folder_signature = signature
        return changed

    def _stop(self, scheduler: BackgroundScheduler) -> None:
        """Start nothing new; wait ``grace`` for running drills, then abort them and wait for that."""
        running = ",".join(self.supervisor.running()) or "none"
        self.emit("serve-stopping", signal=self.stop_signal, running=running, grace=self.options.grace)
        self.notifier.stopping(f"stopping ({self.stop_signal}); running: {running}")
        scheduler.pause()
        deadline = time.monotonic() + self.options.grace
        while self.supervisor.running() and time.monotonic() < deadline and not self.abort_now.is_set():
            self.notifier.beat()  # systemd still watches while running drills finish
            self.abort_now.wait(0.2)
        if running_now := self.supervisor.running():
            self.emit("abort-running", level="warning", drills=",".join(running_now))
            self.abort_now.set()
        deadline = time.monotonic() + self.options.abort_grace + ABORT_WAIT_MARGIN
        while self.supervisor.running() and time.monotonic() < deadline:
            self.notifier.beat()
            time.sleep(0.1)
        self.reloader.sync.save_next_runs()
        scheduler.shutdown(wait=False)


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


def status_line(next_runs: Mapping[str, datetime | None], running: list[str]) -> str:
    """One line for ``systemctl status``: how many drills are scheduled, which run, which is next."""
    scheduled = {name: due for name, due in next_runs.items() if due is not None}
    text = f"{len(scheduled)} drill(s) scheduled, {len(running)} running"
    if running:
        text += f" ({', '.join(running)})"
    if scheduled:
        name, due = min(scheduled.items(), key=lambda item: (item[1], item[0]))
        return f"{text}; next: {name} at {iso(due)}"
    return f"{text}; nothing due"


def serve(settings: Settings, options: ServeOptions, emit: Emit | None = None) -> int:
    """The server; systemd's notify socket and watchdog are taken from the environment."""
    return Server(settings, options, emit, Notifier.from_environment(os.environ)).serve()
