"""Reading restored files without trusting them, and writing drillbook's own files beside them.

A restore holds what a possibly compromised host chose to back up, and drillbook often reads it
as root. Opened by name, a restored path may be a symlink to drillbook's signing key, a FIFO that
blocks a read forever, or a device. So a path is walked one component at a time from a
descriptor of the restore root, each component examined with ``lstat`` on its folder's
descriptor and opened with ``O_NOFOLLOW``. A restored symlink is followed by this walk, never by
the kernel, and only while it stays inside the restore: a link to another restored file is fine
(``current -> 2026``), a link to the host is refused. The end of the walk must be what the caller
asked for; ``fstat`` of the opened descriptor decides, so a file swapped after it was examined is
still caught. Files are opened with ``O_NONBLOCK`` (a FIFO opens at once) and read up to a limit.

Messages name the path as the drill wrote it, relative to the restore root, and say what is wrong;
they never quote the file's content.

The other direction: files drillbook writes for a sandboxed program (a server's configuration)
go into a fresh folder only drillbook can write, and are created with ``O_EXCL | O_NOFOLLOW``, so
no path the sandbox account could have replaced is ever followed or truncated.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from drillbook.util.atomic import write_all

SMALL_FILE = 64 * 1024
MAX_SYMLINKS = 40  # what Linux allows in one path lookup
_CHUNK = 64 * 1024
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symlink"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


class RestoredFileError(Exception):
    """A restored path drillbook will not read; the text is drillbook's, never the file's."""

    def __init__(self, rel: str, problem: str):
        super().__init__(f"{rel} {problem}")
        self.rel = rel
        self.problem = problem


class NotInRestore(RestoredFileError):
    def __init__(self, rel: str):
        super().__init__(rel, "is not in the restore")


class LeadsOutside(RestoredFileError):
    def __init__(self, rel: str, target: str | None):
        super().__init__(rel, "leads outside the restore" + (f" (a symlink to {target})" if target else ""))


def kind_of(mode: int) -> str:
    """What a file is, in words: "a FIFO", "a folder"..."""
    return next((name for test, name in _KINDS if test(mode)), "an unknown kind of file")


def show_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class RestoredPath:
    """``rel`` under the restore ``root``; every access walks it afresh (see the module docstring)."""

    root: Path
    rel: str

    @classmethod
    def of(cls, path: Path | RestoredPath) -> RestoredPath:
        """A bare Path is read with its own folder as the root: only its last component is checked."""
        return path if isinstance(path, RestoredPath) else cls(path.parent, path.name)

    def child(self, name: str) -> RestoredPath:
        return RestoredPath(self.root, str(PurePosixPath(self.rel) / name))

    def stat(self) -> os.stat_result:
        """The entry the path leads to, not opened (a FIFO or device is only looked at)."""
        walk = _Walk(self.root, self.rel)
        try:
            folder, name = walk.to_end()
            return os.stat(name, dir_fd=folder, follow_symlinks=False)
        finally:
            walk.close()

    def is_folder(self) -> bool:
        return stat.S_ISDIR(self.stat().st_mode)

    def open_folder(self) -> int:
        """A descriptor of the folder; the caller closes it."""
        return self._open(_FOLDER, stat.S_ISDIR, "a folder")

    def open_fd(self) -> int:
        """A read-only descriptor of the regular file; the caller closes it."""
        return self._open(_FILE, stat.S_ISREG, "a regular file")

    def open(self) -> BinaryIO:
        """The regular file for reading, as a file object to use in ``with``."""
        return os.fdopen(self.open_fd(), "rb")

    def read(self, limit: int = SMALL_FILE) -> bytes:
        """The whole file, which must hold at most ``limit`` bytes."""
        with self.open() as fh:
            if os.fstat(fh.fileno()).st_size > limit:
                raise RestoredFileError(self.rel, f"is larger than {show_size(limit)}")
            data = fh.read(limit + 1)
        if len(data) > limit:  # st_size may lie (a file still growing)
            raise RestoredFileError(self.rel, f"is larger than {show_size(limit)}")
        return data

    def head(self, size: int) -> bytes:
        """At most the first ``size`` bytes."""
        with self.open() as fh:
            return fh.read(size)

    def _open(self, flags: int, wanted: Callable[[int], bool], what: str) -> int:
        walk = _Walk(self.root, self.rel)
        try:
            folder, name = walk.to_end()
            entry = os.stat(name, dir_fd=folder, follow_symlinks=False)
            if not wanted(entry.st_mode):
                raise RestoredFileError(self.rel, f"is {kind_of(entry.st_mode)}, not {what}")
            try:
                fd = os.open(name, flags, dir_fd=folder)
            except OSError as exc:
                raise _changed(self.rel, exc) from None
        finally:
            walk.close()
        mode = os.fstat(fd).st_mode
        if not wanted(mode):
            os.close(fd)
            raise RestoredFileError(self.rel, f"is {kind_of(mode)}, not {what} (it changed while "
                                    "drillbook opened it)")
        return fd


def _changed(rel: str, exc: OSError) -> RestoredFileError:
    """An open that failed after the walk examined the entry: a lingering process swapped it."""
    if exc.errno == errno.ENOENT:
        return NotInRestore(rel)
    if exc.errno == errno.ELOOP:
        return RestoredFileError(rel, "is a symlink (it changed while drillbook opened it)")
    if exc.errno == errno.ENOTDIR:
        return RestoredFileError(rel, "is not a folder (it changed while drillbook opened it)")
    return RestoredFileError(rel, f"cannot be opened: {exc.strerror}")


class _Walk:
    """One walk from the restore root: a stack of folder descriptors, the root's at the bottom."""

    def __init__(self, root: Path, rel: str):
        self.root = root
        self.rel = rel
        self.stack = [os.open(root, _FOLDER)]  # the root itself is drillbook's own folder
        self.names: list[str] = []
        self.links = 0
        self.via: str | None = None

    def close(self) -> None:
        for fd in self.stack:
            os.close(fd)
        self.stack = []

    def to_end(self) -> tuple[int, str]:
        """The folder descriptor holding the last component, and its name ("." for the folder)."""
        pending = deque(_parts(self.rel))
        while pending:
            part = pending.popleft()
            if part == "..":
                self._up()
                continue
            try:
                entry = os.stat(part, dir_fd=self.stack[-1], follow_symlinks=False)
            except FileNotFoundError:
                raise NotInRestore(self.rel) from None
            if stat.S_ISLNK(entry.st_mode):
                pending.extendleft(reversed(self._follow(part, list(pending))))
                continue
            if not pending:
                return self.stack[-1], part
            if not stat.S_ISDIR(entry.st_mode):
                raise NotInRestore(self.rel)
            try:
                self.stack.append(os.open(part, _FOLDER, dir_fd=self.stack[-1]))
            except OSError as exc:
                raise _changed(self.rel, exc) from None
            self.names.append(part)
        return self.stack[-1], "."

    def _up(self) -> None:
        if len(self.stack) == 1:
            raise LeadsOutside(self.rel, self.via)
        os.close(self.stack.pop())
        self.names.pop()

    def _follow(self, name: str, rest: list[str]) -> list[str]:
        """The components the link ``name`` stands for; an absolute one must name the restore."""
        self.links += 1
        if self.links > MAX_SYMLINKS:
            raise RestoredFileError(self.rel, "has too many symlinks (a loop?)")
        target = os.readlink(name, dir_fd=self.stack[-1])
        if not target.startswith("/"):
            self.via = os.path.normpath(os.path.join(self.root, *self.names, target, *rest))
            return _parts(target)
        inside = _below(target, self.root)
        if inside is None:
            raise LeadsOutside(self.rel, os.path.normpath(os.path.join(target, *rest)))
        while len(self.stack) > 1:
            self._up()
        return inside


def _parts(path: str) -> list[str]:
    return [p for p in PurePosixPath(path).parts if p not in ("/", ".")]


def _below(target: str, root: Path) -> list[str] | None:
    """``target``'s components under ``root`` when it names a place in the restore, else None."""
    parts = PurePosixPath(target).parts
    for base in {root.absolute().parts, root.resolve().parts}:
        if parts[:len(base)] == base:
            return [p for p in parts[len(base):] if p != "."]
    return None


# -- drillbook's own files for sandboxed programs -------------------------------------------

def private_folder(parent: Path, name: str) -> Path:
    """A new folder ``parent/name`` (0755) in a ``parent`` only drillbook's account may write.

    ``parent`` is created (0755) when missing; it must not be a symlink, must belong to
    drillbook's account and be writable by no one else, so nothing below it can be swapped by the
    sandbox account, which may still read and search it.
    """
    created = True
    try:
        parent.mkdir()
    except FileExistsError:
        created = False
    fd = open_own_folder(parent)
    try:
        if created:
            os.fchmod(fd, 0o755)  # whatever the umask took away: the sandbox account reads here
        os.mkdir(name, 0o700, dir_fd=fd)
        child = os.open(name, _FOLDER, dir_fd=fd)
        try:
            os.fchmod(child, 0o755)
        finally:
            os.close(child)
    finally:
        os.close(fd)
    return parent / name


def open_own_folder(path: Path) -> int:
    """A descriptor of ``path``, which must be a real folder of drillbook's account, closed to others."""
    try:
        fd = os.open(path, _FOLDER)
    except OSError as exc:
        why = "is a symlink" if path.is_symlink() else f"cannot be opened ({exc.strerror})"
        raise OSError(exc.errno, f"{path} {why}: drillbook writes its own files only into its own "
                      "folder") from None
    info = os.fstat(fd)
    problem = None
    if info.st_uid != os.geteuid():
        problem = f"{path} belongs to uid {info.st_uid}, not to drillbook's uid {os.geteuid()}"
    elif info.st_mode & 0o022:
        problem = f"{path} is not drillbook's own folder: others can write to it"
    if problem:
        os.close(fd)
        raise OSError(problem)
    return fd


def create_exclusive(folder_fd: int, name: str, content: str | bytes, mode: int = 0o644) -> None:
    """A new file in the folder; an existing entry of that name (a planted symlink) is an error."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                 dir_fd=folder_fd)
    try:
        os.fchmod(fd, mode)  # whatever the umask took away
        write_all(fd, content.encode() if isinstance(content, str) else content)
    finally:
        os.close(fd)


def write_new_files(folder: Path, files: Mapping[str, str]) -> None:
    """Each file created fresh in ``folder`` (see create_exclusive), the folder opened without following."""
    fd = open_own_folder(folder)
    try:
        for name, text in files.items():
            create_exclusive(fd, name, text)
    finally:
        os.close(fd)


def shown(name: str) -> str:
    """A restored name or path for records, reports and messages: it may hold escape codes and
    control characters, so anything not printable is shown escaped."""
    return name if name.isprintable() else repr(name)[1:-1]


def shown_join(rel: str, name: str) -> str:
    """``rel/name`` from the top of a walk, the name shown escaped."""
    return f"{rel}/{shown(name)}" if rel else shown(name)
