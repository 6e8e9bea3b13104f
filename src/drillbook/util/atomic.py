"""Files replaced in one rename, so a reader (or a crash) never sees half of one.

Records and reports hold query results, command output and HTTP bodies, so what is written here
is private by default: files 0640 and the folders made for them 0750, whatever the umask. A folder
that has the set-group-ID bit (a reports folder given a reader group) passes its group on to
everything made below it.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FILE_MODE = 0o640
FOLDER_MODE = 0o750


def write_text_atomic(path: Path, text: str, mode: int = FILE_MODE) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), mode)


def write_bytes_atomic(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    _write_whole(path, data, mode, os.replace)


def write_text_new(path: Path, text: str, mode: int = FILE_MODE) -> None:
    """Like :func:`write_text_atomic`, but never over an existing file: FileExistsError instead.

    The file appears whole by a hard link (which fails when the name exists, even when it was
    made a moment ago by someone else), never by a rename (which replaces).
    """
    _write_whole(path, text.encode("utf-8"), mode, os.link)


def _write_whole(path: Path, data: bytes, mode: int, publish: Callable[[str, Path], None]) -> None:
    make_folders(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        publish(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # after a replace there is none; after a link, a name too many
    fsync_folder(path.parent)


def make_folders(path: Path, mode: int = FOLDER_MODE, gid: int | None = None) -> None:
    """``mkdir -p``, but every folder it makes gets ``mode`` and ``gid``; existing ones stay as they are.

    Each level is made owner-only first and opened up after its group is set, so it is never
    wider than asked. The set-group-ID bit a folder inherits from its parent is kept.
    """
    if path.is_dir():
        return
    missing = []
    level = path
    while not level.is_dir():
        missing.append(level)
        level = level.parent
    for level in reversed(missing):
        try:
            os.mkdir(level, 0o700)
        except FileExistsError:
            if level.is_dir():
                continue  # made meanwhile by a concurrent run: left as it is
            raise
        if gid is not None:
            os.chown(level, -1, gid)
        inherited = os.stat(level).st_mode & stat.S_ISGID
        os.chmod(level, mode | inherited)


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable: after a power loss it is still there."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` may write less than asked (a full disk, a signal): write until all of it is."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(f"wrote nothing of the last {len(view)} bytes")
        view = view[written:]


def write_json_atomic(path: Path, data: Any, mode: int = FILE_MODE) -> None:
    """JSON with a trailing newline; values JSON cannot hold are written as their text."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", mode)
