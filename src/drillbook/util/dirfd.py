"""Walking a tree by folder descriptors, the one way: a restored tree may be changed under the walk.

Names are resolved one component at a time relative to an open folder, never following a symlink
(``O_NOFOLLOW``), and every step back up checks it arrives where it came from, so a folder swapped
for a symlink mid-walk can never lead the walk (and what it does with privilege) out of the tree.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def up(fd: int, expected: tuple[int, int]) -> tuple[int, bool]:
    """Close ``fd`` and open its parent; also whether the parent is ``(st_dev, st_ino)``, the folder
    the walk came down from. The caller owns the new descriptor either way."""
    parent = os.open("..", OPEN_DIR, dir_fd=fd)
    info = os.fstat(parent)
    os.close(fd)
    return parent, (info.st_dev, info.st_ino) == expected


class TreeChanged(OSError):
    """A folder was swapped while the walk was below it: the walk stops rather than go astray."""


@dataclass
class _Level:
    fd_ident: tuple[int, int]
    rel: str
    pending: list[tuple[str, tuple[int, int]]] = field(default_factory=list)


def walk(top: str | os.PathLike[str] | int) -> Iterator[tuple[str, str, os.stat_result]]:
    """Every entry below ``top`` as ``(folder relative to top, name, lstat)``, parents first.

    Iterative and holding one folder descriptor at a time, so neither depth (a restore may be
    thousands of folders deep) nor width exhausts the stack or the descriptor limit. Symlinks are
    reported, never followed; a folder replaced between listing and entering is not entered.
    ``top`` may be an open folder descriptor, which stays the caller's.
    """
    fd = os.dup(top) if isinstance(top, int) else os.open(top, OPEN_DIR)
    info = os.fstat(fd)
    levels = [_Level((info.st_dev, info.st_ino), "")]
    try:
        while True:
            level = levels[-1]
            yield from _list(fd, level)
            fd = _next_folder(fd, levels)
            if fd < 0:
                return
    finally:
        if fd >= 0:
            os.close(fd)


def _list(fd: int, level: _Level) -> Iterator[tuple[str, str, os.stat_result]]:
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                level.pending.append((entry.name, (info.st_dev, info.st_ino)))
            yield level.rel, entry.name, info


def _next_folder(fd: int, levels: list[_Level]) -> int:
    """Descend into the next pending folder, climbing up as levels run out; -1 when done."""
    while levels:
        level = levels[-1]
        while level.pending:
            name, ident = level.pending.pop()
            try:
                child = os.open(name, OPEN_DIR, dir_fd=fd)
            except OSError:
                continue  # gone, or swapped for a symlink: nothing to walk
            info = os.fstat(child)
            if (info.st_dev, info.st_ino) != ident:
                os.close(child)
                continue
            os.close(fd)
            levels.append(_Level(ident, f"{level.rel}/{name}" if level.rel else name))
            return child
        levels.pop()
        if not levels:
            os.close(fd)
            return -1
        fd, same = up(fd, levels[-1].fd_ident)
        if not same:
            os.close(fd)
            raise TreeChanged(f"{levels[-1].rel or '.'} changed while it was walked")
    return -1
