"""Removing a sandbox's tree, whatever shape the restored data gave it.

The restored tree is hostile: it may be deeper than Python's recursion limit, hold folders without
read, write or search bits, symlinks pointing anywhere, FIFOs and devices, and (left by someone on
the host) a mount. So the walk is iterative and works through open folder descriptors, one at a
time: it goes down by name with ``O_NOFOLLOW`` and back up through ``..``, checking that ``..`` is
the folder it came from. It never follows a symlink (a link is removed, its target never touched),
never enters another mount (a bind mount of host data stays whole), and gives a folder of the tree
the owner's bits it needs before reading it. Whatever could not be removed is named in the error:
a sandbox holds patient data, and a caller must know when some of it is left behind.

Files are unlinked by a few threads while the walk goes on (each batch through its own duplicate
of the folder's descriptor, taken where the walk stands): freeing a large file's blocks is the
kernel's slow part, and it frees several at once, so a restore of 600 MiB goes two to three times
faster than one unlink at a time. A folder is removed after all its siblings were walked, and only
once every batch in it is done.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.util.dirfd import OPEN_DIR, up
from drillbook.util.procfs import mount_id
from drillbook.util.restored import shown_join

_OPEN_PATH = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OWNER_ALL = stat.S_IRWXU
_NAMED = 3  # problems named in the error; the rest are counted
_WORKERS = 4  # threads unlinking files; they wait on the kernel, not on the interpreter
_BATCH = 256  # names per batch: a folder of a million files is shared out too
_IN_FLIGHT = 64  # batches queued at most, each holding a descriptor


class TreeLeft(OSError):
    """A tree that could not be removed completely; the message names the first things left."""


@dataclass
class _Folder:
    """One folder on the way down: its name in its parent, who it is, what is left to clear in it."""

    name: str
    rel: str  # from the top, for messages
    ident: tuple[int, int]
    subfolders: list[str] = field(default_factory=list)
    unlinking: list[Future[None]] = field(default_factory=list)
    finished: list[_Folder] = field(default_factory=list)  # walked subfolders, removed at the end


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
        self.lock = threading.Lock()  # noted by the unlinking threads too

    def note(self, where: str, exc: OSError | str) -> None:
        with self.lock:
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
        self.pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="remove")
        self.slots = threading.BoundedSemaphore(_IN_FLIGHT)

    def clear(self) -> None:
        try:
            self._walk()
        finally:
            self.pool.shutdown(wait=True)  # no unlink outlives the walk that started it
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
            self._remove_finished(level)
            if len(path) == 1:
                return
            path.pop()
            self._up(path[-1].ident)
            path[-1].finished.append(level)

    def _remove_finished(self, level: _Folder) -> None:
        """Remove the subfolders of ``level`` (where the walk stands), all walked by now: their
        files were unlinked on threads meanwhile, side by side."""
        for child in level.finished:
            self._rmdir(child)
        level.finished.clear()

    def _open_level(self, name: str, rel: str) -> _Folder:
        """Delete every non-folder here; the subfolders are left for the walk to enter."""
        info = os.fstat(self.fd)
        level = _Folder(name, rel, (info.st_dev, info.st_ino))
        names: list[str] = []
        try:
            with os.scandir(self.fd) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            level.subfolders.append(entry.name)
                        else:
                            names.append(entry.name)
                    except OSError as exc:
                        self.problems.note(shown_join(level.rel, entry.name), exc)
        except OSError as exc:  # the folder cannot be listed: it stays, the walk goes on
            self.problems.note(rel or str(self.top), exc)
        for start in range(0, len(names), _BATCH):
            level.unlinking.append(self._unlink_later(names[start:start + _BATCH], level.rel))
        return level

    def _unlink_later(self, names: list[str], rel: str) -> Future[None]:
        """Unlink ``names`` in this folder on a thread, through a descriptor of its own."""
        self.slots.acquire()
        try:
            fd = os.dup(self.fd)
        except BaseException:
            self.slots.release()
            raise
        try:
            return self.pool.submit(self._unlink_all, fd, names, rel)
        except RuntimeError:  # the interpreter is exiting (an atexit clean-up): no new threads
            done: Future[None] = Future()
            self._unlink_all(fd, names, rel)
            done.set_result(None)
            return done

    def _unlink_all(self, fd: int, names: list[str], rel: str) -> None:
        try:
            for name in names:
                try:
                    os.unlink(name, dir_fd=fd)
                except OSError as exc:
                    self.problems.note(shown_join(rel, name), exc)
        finally:
            os.close(fd)
            self.slots.release()

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
        for batch in level.unlinking:
            batch.result()
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
