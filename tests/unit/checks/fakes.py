"""Launchers for unit tests: the protocol checks rely on, without namespaces or root."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.sandbox.inside import PYTHON
from drillbook.util.process import Completed, kill_group, run_bounded


@dataclass
class Call:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    timeout: float
    stdin_data: str | None = None


def is_reader(argv: list[str]) -> bool:
    """The reader of the restore (sandbox/inside.py), which tests run for real, on the host."""
    return argv[:3] == [PYTHON, "-I", "-S"]


def run_reader(argv: list[str], cwd: Path, timeout: float, stdin_data: str | None = None) -> Completed:
    return run_bounded(argv, cwd=cwd, env={"PATH": os.environ["PATH"]}, timeout=timeout,
                       stdin_data=stdin_data)


@dataclass
class ScriptedLauncher:
    """Answers every ``run`` with the next scripted result (or raises it) and records the call.

    The reader of the restore is run for real (see is_reader) and recorded in ``reads`` only.
    """

    results: list[Completed | BaseException] = field(default_factory=list)
    service: FakeService | BaseException | None = None
    calls: list[Call] = field(default_factory=list)
    reads: list[Call] = field(default_factory=list)
    real_reader: bool = True  # False: the reader's calls get scripted results too
    sweeps: int = 0
    killed: bool = False

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            stdin_data: str | None = None) -> Completed:
        if self.real_reader and is_reader(argv):
            self.reads.append(Call(list(argv), cwd, dict(env), timeout, stdin_data))
            return run_reader(argv, cwd, timeout, stdin_data)
        self.calls.append(Call(list(argv), cwd, dict(env), timeout, stdin_data))
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> FakeService:
        self.calls.append(Call(list(argv), cwd, dict(env), 0.0))
        if isinstance(self.service, BaseException):
            raise self.service
        self.service = self.service or FakeService()
        return self.service

    def sweep(self) -> int:
        self.sweeps += 1
        return 0

    def kill_all(self) -> None:
        self.killed = True


@dataclass
class FakeService:
    """A service that runs until stopped, or has exited with ``exit_code``."""

    exit_code: int | None = None
    output: list[str] = field(default_factory=list)
    stopped_with: int | None = None

    def poll(self) -> int | None:
        return self.exit_code

    def output_tail(self, lines: int = 15) -> list[str]:
        return self.output[-lines:]

    def stop(self, sig: int = signal.SIGTERM, grace: float = 5.0) -> int | None:
        self.stopped_with = sig
        return self.exit_code


def completed(returncode: int | None = 0, stdout: str = "", stderr: str = "",
              timed_out: bool = False) -> Completed:
    return Completed(["fake"], returncode, stdout, stderr, 0.01, timed_out=timed_out)


@dataclass
class LocalService:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def poll(self) -> int | None:
        return self.proc.poll()

    def output_tail(self, lines: int = 15) -> list[str]:
        return self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]

    def stop(self, sig: int = signal.SIGTERM, grace: float = 5.0) -> int | None:
        kill_group(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            kill_group(self.proc.pid)
            self.proc.wait()
        return self.proc.returncode


@dataclass
class LocalLauncher:
    """Runs children on the host as the test's user: for probes against loopback servers."""

    logs: Path
    services: list[LocalService] = field(default_factory=list)

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            stdin_data: str | None = None) -> Completed:
        return run_bounded(argv, cwd=cwd, env={"PATH": os.environ["PATH"], **env}, timeout=timeout,
                           stdin_data=stdin_data)

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> LocalService:
        log_path = self.logs / f"service-{len(self.services) + 1}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, cwd=cwd, env={"PATH": os.environ["PATH"], **env},
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.services.append(LocalService(proc, log_path))
        return self.services[-1]

    def sweep(self) -> int:
        return 0

    def kill_all(self) -> None:
        for service in self.services:
            service.stop(signal.SIGKILL, 0)
