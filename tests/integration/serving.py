"""A real `drillbook serve` process for integration tests: its structured events, read from a file.

Shared by test_serve.py (serve as the test's own account) and test_rootless_drill.py (serve as an
ordinary account behind ``runuser``, which forks: the server is then runuser's only child, and
signals go to it, as systemd would send them to the server itself).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path


class Serve:
    """One `drillbook serve` process; its stderr (structured events) goes to a file we parse."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None, *,
                 behind_parent: bool = False):
        self.log = cwd / f"serve-{time.monotonic_ns()}.log"
        self.behind_parent = behind_parent
        with open(self.log, "w") as handle:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                         stderr=handle, text=True)

    def events(self, name: str | None = None) -> list[dict[str, str]]:
        out = []
        for line in self.log.read_text().splitlines():
            if "event=" not in line:
                continue
            fields = dict(part.split("=", 1) for part in shlex.split(line) if "=" in part)
            if name is None or fields.get("event") == name:
                out.append(fields)
        return out

    def wait_for(self, name: str, count: int = 1, timeout: float = 20, **match: str) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events(name) if all(e.get(k) == v for k, v in match.items())]
            if len(found) >= count:
                return found
            assert self.proc.poll() is None, f"serve exited early:\n{self.log.read_text()}"
            time.sleep(0.2)
        raise AssertionError(f"no {count} x {name} {match} within {timeout}s:\n{self.log.read_text()}")

    def url(self, path: str) -> str:
        return self.wait_for("metrics-listening")[0]["url"].replace("/metrics", path)

    def server_pid(self) -> int | None:
        """The server's pid: the process started, or the only child of the parent started."""
        if not self.behind_parent:
            return self.proc.pid
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if len(children) == 1 else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> tuple[int, float]:
        pid = self.server_pid()
        assert pid is not None, f"no server process under {self.proc.pid}"
        started = time.monotonic()
        os.kill(pid, sig)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            pid = self.server_pid()
            if pid is not None and pid != self.proc.pid:
                os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait()

