"""Removing a sandbox's tree, whatever shape the restored data gave it.

The restored tree is hostile: it may be deeper than Python's recursion limit, hold folders without
read, write or search bits, symlinks pointing anywhere, FIFOs and devices, and (left by someone on
the host) a mount. So the walk is iterative and works through open folder descriptors, one at a
time: it goes down by name with ``O_NOFOLLOW`` and back up through ``..``, checking that ``..`` is
the folder it came from. It never follows a symlink (a link is removed, its target never touched),
never enters another mount (a bind mount of host data stays whole), and gives a folder of the tree
the owner's bits it needs before reading it. Whatever could not be removed is named in the error:
a sandbox holds patient data, and a caller must know when some of it is left behind.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.util.dirfd import OPEN_DIR, up
from drillbook.util.procfs import mount_id
from drillbook.util.restored import shown_join

_OPEN_PATH = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OWNER_ALL = stat.S_IRWXU
_NAMED = 3  # problems named in the error; the rest are counted


class TreeLeft(OSError):
    """A tree that could not be removed completely; the message names the first things left."""


@dataclass
class _Folder:
    """One folder on the way down: its name in its parent, who it is, what is left to clear in it."""

    name: str
    rel: str  # from the top, for messages
    ident: tuple[int, int]
    subfolders: list[str] = field(default_factory=list)


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything under it; :class:`TreeLeft` when anything is left."""
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(top.st_mode):
        os.unlink(path)  # a symlink or a file: never its target
        return
    problems = _Problems()
    try:
        _Walk(path, problems).clear()
    except TreeLeft:
        raise
    except OSError as exc:  # the top itself could not be opened
        problems.note(str(path), exc)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        problems.note(str(path), exc)
    if os.path.lexists(path):
        raise TreeLeft(f"{path} could not be removed completely: {problems}")


def empty_folder(path: Path) -> None:
    """Remove everything under the folder ``path`` but keep the folder itself (its inode: a
    namespace that bound it sees the same folder after); :class:`TreeLeft` when anything is left."""
    problems = _Problems()
    try:
        _Walk(path, problems).clear()
    except TreeLeft:
        raise
    except OSError as exc:
        problems.note(str(path), exc)
    if problems.named or os.listdir(path):
        raise TreeLeft(f"{path} could not be emptied: {problems}")


class _Problems:
    """What could not be removed: the first few named, the rest counted (a tree may be huge)."""

    def __init__(self) -> None:
        self.named: list[str] = []
        self.more = 0

    def note(self, where: str, exc: OSError | str) -> None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOTEMPTY and (self.named or self.more):
            return  # a folder kept by something under it, which is named already
        text = exc if isinstance(exc, str) else exc.strerror or str(exc)
        if len(self.named) < _NAMED:
            self.named.append(f"{where}: {text}")
        else:
            self.more += 1

    def __str__(self) -> str:
        more = f" (and {self.more} more)" if self.more else ""
        return ("; ".join(self.named) or "it is still there") + more


class _Walk:
    """Empties one folder tree, depth first, holding one folder descriptor (``fd``) at a time."""

    def __init__(self, top: Path, problems: _Problems):
        self.top = top
        self.problems = problems
        self.fd = _enter(str(top), None)
        self.mount, self.device = mount_id(self.fd), os.fstat(self.fd).st_dev

    def clear(self) -> None:
        try:
            self._walk()
        finally:
            os.close(self.fd)

    def _walk(self) -> None:
        path = [self._open_level("", "")]
        while True:
            level = path[-1]
            if level.subfolders:
                name = level.subfolders.pop()
                rel = shown_join(level.rel, name)
                if self._enter_child(name, rel):
                    path.append(self._open_level(name, rel))
                continue
            if len(path) == 1:
                return
            path.pop()
            self._up(path[-1].ident)
            self._rmdir(level)

    def _open_level(self, name: str, rel: str) -> _Folder:
        """Delete every non-folder here; the subfolders are left for the walk to enter."""
        info = os.fstat(self.fd)
        level = _Folder(name, rel, (info.st_dev, info.st_ino))
        try:
            with os.scandir(self.fd) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            level.subfolders.append(entry.name)
                        else:
                            os.unlink(entry.name, dir_fd=self.fd)
                    except OSError as exc:
                        self.problems.note(shown_join(level.rel, entry.name), exc)
        except OSError as exc:  # the folder cannot be listed: it stays, the walk goes on
            self.problems.note(rel or str(self.top), exc)
        return level

    def _enter_child(self, name: str, where: str) -> bool:
        """Move into a subfolder; False (noted as a problem) when it must not or cannot be entered."""
        try:
            child = _enter(name, self.fd)
        except OSError as exc:
            self.problems.note(where, exc)
            return False
        if os.fstat(child).st_dev != self.device or mount_id(child) != self.mount:
            os.close(child)
            self.problems.note(where, "a mount point, not entered")
            return False
        os.close(self.fd)
        self.fd = child
        return True

    def _up(self, expected: tuple[int, int]) -> None:
        """Back to the parent, which must be the folder the walk came down from."""
        self.fd, same = up(self.fd, expected)
        if not same:
            raise TreeLeft(f"{self.top} was moved while it was being removed; stopped")

    def _rmdir(self, level: _Folder) -> None:
        try:
            os.rmdir(level.name, dir_fd=self.fd)
        except OSError as exc:
            self.problems.note(level.rel, exc)



def _enter(name: str, dir_fd: int | None) -> int:
    """Open a folder for listing, giving it the owner's bits first when it lacks any of them.

    The mode is changed through an ``O_PATH`` descriptor (which needs no bits and never follows a
    symlink), so a folder swapped for a link in the meantime is never what gets changed.
    """
    handle = os.open(name, _OPEN_PATH, dir_fd=dir_fd)
    try:
        mode = stat.S_IMODE(os.fstat(handle).st_mode)
        if mode & _OWNER_ALL != _OWNER_ALL:
            os.chmod(f"/proc/self/fd/{handle}", mode | _OWNER_ALL)
        return os.open(".", OPEN_DIR, dir_fd=handle)
    finally:
        os.close(handle)
