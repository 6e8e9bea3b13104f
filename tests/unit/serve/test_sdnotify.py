"""The notify protocol against a real AF_UNIX datagram socket, as systemd listens on one."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.serve.sdnotify import Notifier, watchdog_seconds


class Listener:
    """systemd's end: a datagram socket bound at a path, or in the abstract namespace."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.sock.settimeout(2)

    def receive(self) -> dict[str, str]:
        data = self.sock.recv(4096).decode()
        assert data.endswith("\n")
        return dict(line.split("=", 1) for line in data.splitlines())

    def nothing_more(self) -> bool:
        self.sock.settimeout(0.05)
        try:
            self.sock.recv(4096)
        except TimeoutError:
            return True
        return False


@pytest.fixture
def listener() -> Iterator[Listener]:
    """In a short temp folder of its own: a socket path must fit in 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="sdnotify-") as folder:
        listening = Listener(str(Path(folder) / "notify"))
        yield listening
        listening.sock.close()


def test_ready_reloading_stopping_and_status_arrive_as_systemd_reads_them(listener: Listener) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": listener.address})
    notifier.ready("2 drills scheduled")
    assert listener.receive() == {"READY": "1", "STATUS": "2 drills scheduled"}
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.reloading()
    reloading = listener.receive()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert reloading["RELOADING"] == "1" and before <= int(reloading["MONOTONIC_USEC"]) <= after
    notifier.stopping()
    assert listener.receive() == {"STOPPING": "1"}
    notifier.status("one\nline")
    assert listener.receive() == {"STATUS": "one line"}, "a newline would start another field"


def test_an_abstract_socket_is_named_with_an_at_sign() -> None:
    abstract = Listener(f"@drillbook-test-{os.getpid()}-{time.monotonic_ns()}")
    try:
        Notifier(abstract.address).ready()
        assert abstract.receive() == {"READY": "1"}
    finally:
        abstract.sock.close()


def test_the_variables_are_taken_out_of_the_environment_children_inherit(listener: Listener) -> None:
    environ = {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "42",
               "PATH": "/usr/bin"}
    Notifier.from_environment(environ, pid=42)
    assert environ == {"PATH": "/usr/bin"}


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    notifier = Notifier.from_environment({}, pid=1)
    assert not notifier.enabled and notifier.watchdog_interval is None
    notifier.ready("x")
    notifier.beat()


def test_the_watchdog_beats_at_half_the_time_systemd_allows(listener: Listener) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"})
    assert notifier.watchdog_interval == pytest.approx(0.2)
    notifier.beat()
    assert listener.receive() == {"WATCHDOG": "1"}
    notifier.beat()
    assert listener.nothing_more(), "a second beat within the interval is not sent"
    time.sleep(0.25)
    notifier.beat()
    assert listener.receive() == {"WATCHDOG": "1"}


def test_the_watchdog_is_only_ours_when_watchdog_pid_is_unset_or_our_pid() -> None:
    assert watchdog_seconds("30000000", None, 7) == 30.0
    assert watchdog_seconds("30000000", "7", 7) == 30.0
    assert watchdog_seconds("30000000", "8", 7) is None, "systemd watches another process"
    assert watchdog_seconds(None, None, 7) is None and watchdog_seconds("0", None, 7) is None
    assert watchdog_seconds("soon", None, 7) is None


def test_a_socket_nobody_listens_on_is_logged_once_and_the_server_goes_on(tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(str(tmp_path / "gone"))
    notifier.ready()
    notifier.stopping()
    assert caplog.text.count("cannot notify systemd at") == 1
