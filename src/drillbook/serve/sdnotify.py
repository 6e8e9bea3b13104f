"""systemd's notify protocol (sd_notify(3)), so ``Type=notify-reload`` knows what the server is doing.

A few ``KEY=value`` lines in one datagram to the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a
leading ``@`` names an abstract socket). The server says READY=1 once the scheduler runs,
RELOADING=1 (with the CLOCK_MONOTONIC time systemd matches the reload by) and READY=1 around a
reload on SIGHUP, STOPPING=1 when it stops, a one-line STATUS=, and WATCHDOG=1 at half of
``$WATCHDOG_USEC`` when systemd watches it. Without ``$NOTIFY_SOCKET`` (a terminal, cron, a test)
every call does nothing.

The variables are taken out of the environment when read: the ``drillbook run`` children, restic
and the checks must not talk to systemd in the server's name.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import MutableMapping

log = logging.getLogger("drillbook.serve.sdnotify")
VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    """Sends notifications to systemd; does nothing when the server was not started by it."""

    def __init__(self, address: str | None, watchdog_seconds: float | None = None):
        self.address = _socket_address(address) if address else None
        #: How often to send WATCHDOG=1 (half of what systemd allows), or None when not watched.
        self.watchdog_interval = watchdog_seconds / 2 if watchdog_seconds and self.address else None
        self._last_beat = 0.0
        self._failed = False

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str], pid: int | None = None) -> Notifier:
        """Read (and remove) ``$NOTIFY_SOCKET`` and the watchdog variables of ``environ``."""
        values = {name: environ.pop(name, None) for name in VARIABLES}
        return cls(values["NOTIFY_SOCKET"], watchdog_seconds(values["WATCHDOG_USEC"], values["WATCHDOG_PID"],
                                                             os.getpid() if pid is None else pid))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def ready(self, status: str | None = None) -> None:
        self.send("READY=1", status=status)

    def reloading(self) -> None:
        """A reload starts: systemd pairs it with the SIGHUP it sent by the monotonic time."""
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self, status: str | None = None) -> None:
        self.send("STOPPING=1", status=status)

    def status(self, text: str) -> None:
        self.send(status=text)

    def beat(self) -> None:
        """WATCHDOG=1 when half the watchdog time has passed since the last one."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_beat >= self.watchdog_interval:
            self._last_beat = now
            self.send("WATCHDOG=1")

    def send(self, *fields: str, status: str | None = None) -> None:
        """One datagram; a failure is logged once and never stops the server."""
        if self.address is None:
            return
        lines = [*fields, *([f"STATUS={one_line(status)}"] if status is not None else [])]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(lines).encode() + b"\n", self.address)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify systemd at %s: %s", _shown(self.address), exc.strerror or exc)
            self._failed = True


def watchdog_seconds(usec: str | None, watchdog_pid: str | None, pid: int) -> float | None:
    """systemd's watchdog time, when it watches this process (``$WATCHDOG_PID`` unset or ours)."""
    if not usec or (watchdog_pid and watchdog_pid != str(pid)):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number of microseconds: no watchdog", usec)
        return None
    return value / 1_000_000 if value > 0 else None


def one_line(text: str) -> str:
    """STATUS= ends at the line's end: a newline in it would start another field."""
    return " ".join(text.split())


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


def _shown(address: str | bytes) -> str:
    return "@" + address[1:].decode(errors="replace") if isinstance(address, bytes) else address
