"""A real Redis on a free loopback port and real `drillbook worker` processes, for the site tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from drillbook.util.procfs import all_pids, arguments
from tests.support import PASSWORD_ENV, Workspace, free_port

BROKER_PASSWORD = "broker-secret-5b9e1c"
BROKER_ENV = "TEST_BROKER_PASSWORD"


@dataclass
class Redis:
    port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--requirepass", BROKER_PASSWORD, "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        until(lambda: self._pings(), 10, "redis-server did not answer")

    def _pings(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=BROKER_PASSWORD, socket_timeout=5)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis(folder: Path) -> Redis:
    server = Redis(free_port(), folder)
    server.start()
    return server


def until(check: Callable[[], object], timeout: float, what: str, every: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"{what} within {timeout}s")


@dataclass
class Worker:
    site: str
    root: Path
    proc: subprocess.Popen[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.site}@test"

    def kill(self, run_id: str | None = None) -> None:
        """SIGKILL the worker and every process of its group: a machine that died. With ``run_id``,
        also what that run started in sessions of its own (restic writing into the sandbox): on a
        dead machine nothing of the run goes on, while here an orphan could still be writing."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        for pid in mentioning(run_id) if run_id else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def mentioning(text: str) -> list[int]:
    """Processes (not this one) whose command line holds ``text``."""
    return [pid for pid in all_pids() if pid != os.getpid() and any(text in arg for arg in arguments(pid))]


def worker_env(workspace: Workspace, root: Path, **extra: str) -> dict[str, str]:
    """A worker's own reports (its staging folder) and state; the drills folder is the same files."""
    env = workspace.env(**extra)
    env.update({"DRILLBOOK_REPORTS": str(root / "reports"), "DRILLBOOK_STATE": str(root / "state"),
                BROKER_ENV: BROKER_PASSWORD, "DRILLBOOK_LOG_LEVEL": "info"})
    return env


def start_worker(workspace: Workspace, site: str, **extra: str) -> Worker:
    return ready(launch_worker(workspace, site, **extra))


def start_workers(workspace: Workspace, sites: list[str], **extra: str) -> dict[str, Worker]:
    """Several workers started side by side: each one's start-up (Celery's imports) overlaps the others'."""
    launched = [launch_worker(workspace, site, **extra) for site in sites]
    return {worker.site: ready(worker) for worker in launched}


def launch_worker(workspace: Workspace, site: str, **extra: str) -> Worker:
    root = workspace.root / "workers" / site
    (root / "reports").mkdir(parents=True, exist_ok=True)
    log = root / f"worker-{time.monotonic_ns()}.log"
    env = worker_env(workspace, root, **extra)
    with open(log, "w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "drillbook", "worker", "--site", site, "--name", f"{site}@test"],
                                cwd=workspace.root, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return Worker(site, root, proc, log, env)


def ready(worker: Worker) -> Worker:
    until(lambda: "ready" in worker.log.read_text() or worker.proc.poll() is not None, 30,
          f"worker {worker.site} ready", every=0.1)
    assert worker.proc.poll() is None, worker.log.read_text()
    return worker


def central_env(workspace: Workspace) -> dict[str, str]:
    """The central side has the broker's password and no repository password at all."""
    env = workspace.env()
    env.pop(PASSWORD_ENV)
    return {**env, BROKER_ENV: BROKER_PASSWORD}


def project_yaml(url: str, heartbeat: str = "0.5s") -> str:
    return (f"workers:\n  broker: {url}\n  password: {{env: {BROKER_ENV}}}\n  heartbeat: {heartbeat}\n"
            "  republish_after: 3s\n")
