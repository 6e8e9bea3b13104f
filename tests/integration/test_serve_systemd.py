"""A real `drillbook serve` under systemd's notify protocol, with the test in systemd's place.

The server is started with ``NOTIFY_SOCKET`` naming the test's datagram socket and a watchdog of
one second, as ``Type=notify-reload`` with ``WatchdogSec=1s`` would start it.
"""

from __future__ import annotations

import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.serving import Serve
from tests.support import Workspace, write_drill


class Systemd:
    """Collects every notification the server sends, in order."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.open = True
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        while self.open:
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, OSError):
                continue
            with self.lock:
                self.messages.append(dict(line.split("=", 1) for line in data.decode().splitlines()))

    def wait_for(self, key: str, after: int = 0, timeout: float = 20) -> int:
        """The index of the first message with ``key`` at or after ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for index, message in enumerate(self.messages[after:], start=after):
                    if key in message:
                        return index
            time.sleep(0.05)
        raise AssertionError(f"no {key}= after message {after} within {timeout}s: {self.messages}")

    def close(self) -> None:
        self.open = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def systemd() -> Iterator[Systemd]:
    with tempfile.TemporaryDirectory(prefix="notify-") as folder:  # a socket path fits in 108 bytes
        listening = Systemd(Path(folder) / "notify")
        yield listening
        listening.close()


def test_serve_tells_systemd_it_is_ready_reloading_and_stopping(workspace: Workspace, systemd: Systemd) -> None:
    write_drill(workspace.drills, "clinic", "/srv/nowhere/repo", body="schedule: every 1h\n")
    env = workspace.env(NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC="1000000")
    server = Serve([sys.executable, "-m", "drillbook", "serve"], workspace.root, env)
    try:
        ready = systemd.wait_for("READY")
        assert systemd.messages[ready]["STATUS"].startswith("1 drill(s) scheduled, 0 running; next: clinic at ")
        assert server.events("serve-start"), "READY=1 comes once the scheduler is up"

        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        server.proc.send_signal(signal.SIGHUP)
        reloading = systemd.wait_for("RELOADING", after=ready + 1)
        assert int(systemd.messages[reloading]["MONOTONIC_USEC"]) >= before
        reloaded = systemd.wait_for("READY", after=reloading + 1)
        server.wait_for("reloaded")

        watchdog_from = len(systemd.messages)
        time.sleep(1.5)
        beats = [m for m in systemd.messages[watchdog_from:] if m.get("WATCHDOG") == "1"]
        assert len(beats) >= 2, f"a 1 s watchdog is fed every half second: {systemd.messages}"

        code, _took = server.stop(signal.SIGTERM)
        stopping = systemd.wait_for("STOPPING", after=reloaded + 1)
        assert code == 0 and "stopping (SIGTERM)" in systemd.messages[stopping]["STATUS"]
        assert "READY" not in {key for m in systemd.messages[stopping:] for key in m}
    finally:
        server.kill()
