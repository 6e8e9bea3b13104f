"""The one advisory file lock: always with a timeout, and the lock file is never unlinked.

Unlinking a lock file after unlocking lets two holders exist (one locks the old inode, the next
creates a new file), so lock files stay. Waiting without a limit can hang a run for ever, so every
wait has one; ``timeout=0`` tries once. A holder may say who it is inside the lock file
(:func:`say_holder`); whoever finds the lock busy reads it back in :attr:`LockBusy.holder`.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from drillbook.util.atomic import make_folders

POLL_SECONDS = 0.05
HOLDER_BYTES = 4096  # a holder's note is one short line; more is never read


class LockBusy(Exception):
    """Another process held the lock for the whole timeout."""

    def __init__(self, path: Path, timeout: float, holder: str = ""):
        super().__init__(f"{path} stayed locked for {timeout:g}s by another process")
        self.path = path
        self.timeout = timeout
        self.holder = holder  # what the holder wrote into the lock file ("" when it wrote nothing)


@contextmanager
def file_lock(path: Path, *, timeout: float, shared: bool = False, mode: int = 0o600) -> Iterator[int]:
    """Hold an flock on ``path`` (created if missing) inside the block; yields the open fd.

    flock works on a read-only descriptor, so anyone who can open the file can hold the lock:
    the file's mode is set to ``mode`` (owner-only by default) every time it is taken.
    """
    make_folders(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        _acquire(fd, path, timeout, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, path: Path, timeout: float, kind: int) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockBusy(path, timeout, _read_holder(fd)) from None
            time.sleep(POLL_SECONDS)


def say_holder(fd: int, note: str) -> None:
    """Write who holds the lock into its file (``fd`` from :func:`file_lock`); "" clears it.

    Cleared before a holder lets go, so a note names a live holder (or one that crashed holding it,
    whose lock the kernel has freed already).
    """
    os.ftruncate(fd, 0)
    if note:
        os.pwrite(fd, note.encode("utf-8")[:HOLDER_BYTES], 0)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, HOLDER_BYTES, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
