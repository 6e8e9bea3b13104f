"""Making a restored tree safe to hand to the sandbox account, whoever restored it.

Every mode and owner in a restore was chosen by the backup. Restored as root, a setuid-root shell,
a file with capabilities, a device node such as ``/dev/mem`` or a file owned by another local
account are all real on this host; restored by the sandbox account, a setuid bit still is. So
after restic and before anything reads the tree, :func:`make_safe` leaves it with no setuid or
setgid bit, no file capability, no device node (removed: the drill never needs one) and nothing
owned by anyone but the sandbox account. FIFOs and sockets stay, owned by the account: nothing
privileged opens them (the content check only ``lstat``\\ s).

The walk is the teardown's (see removal.py): iterative, one folder descriptor at a time, down by
name with ``O_NOFOLLOW`` and back up through ``..``, checked against the folder it came from. It
never follows a symlink (a link's own owner changes, never its target's), never enters another
mount, and changes modes through ``O_PATH`` descriptors, so an entry swapped for a link in the
meantime is never what gets changed. What it cannot make safe stops it with :class:`UnsafeTree`:
a tree half made safe is not handed on.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drillbook.util.dirfd import OPEN_DIR, up
from drillbook.util.procfs import mount_id
from drillbook.util.restored import shown_join

_OPEN_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_SETID = stat.S_ISUID | stat.S_ISGID
_OWNER_READ = stat.S_IRUSR | stat.S_IXUSR
CAPABILITY = "security.capability"
_NO_XATTR = {errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP}


class UnsafeTree(OSError):
    """A restored tree that could not be made safe; the message says where and why."""


@dataclass
class SafetyReport:
    """What the backup had chosen that did not survive; recorded with the restore."""

    entries: int = 0
    owners_changed: int = 0
    setid_cleared: int = 0
    capabilities_removed: int = 0
    devices_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_safe(root: Path, uid: int, gid: int) -> SafetyReport:
    """Give ``root`` and everything under it to ``uid``:``gid``, without setid bits or devices."""
    return _Walk(root, uid, gid).run()


@dataclass
class _Level:
    ident: tuple[int, int]
    rel: str
    subfolders: list[str] = field(default_factory=list)


class _Walk:
    """One pass over the tree holding one folder descriptor (``fd``) at a time."""

    def __init__(self, root: Path, uid: int, gid: int):
        self.root, self.uid, self.gid = root, uid, gid
        self.report = SafetyReport()
        self.privileged = os.geteuid() == 0
        try:
            handle = os.open(root, _OPEN_PATH | os.O_DIRECTORY)
        except OSError as exc:
            raise UnsafeTree(f"{root} is not a folder that can be made safe: {exc.strerror or exc}") from None
        try:
            info = os.fstat(handle)
            self.device, self.mount = info.st_dev, mount_id(handle)
            self.fd = self._open_folder(handle, info, str(root))
        finally:
            os.close(handle)

    def run(self) -> SafetyReport:
        try:
            self._walk()
        finally:
            os.close(self.fd)
        return self.report

    def _walk(self) -> None:
        info = os.fstat(self.fd)
        path = [_Level((info.st_dev, info.st_ino), "", self._fix_entries(""))]
        while path:
            level = path[-1]
            if level.subfolders:
                name = level.subfolders.pop()
                rel = shown_join(level.rel, name)
                ident = self._down(name, rel)
                path.append(_Level(ident, rel, self._fix_entries(rel)))
                continue
            path.pop()
            if path:
                self._up(path[-1].ident)

    def _fix_entries(self, rel: str) -> list[str]:
        """Make every entry of the current folder safe but its subfolders, which are returned."""
        subfolders = []
        try:
            with os.scandir(self.fd) as entries:
                names = [entry.name for entry in entries]
        except OSError as exc:
            raise UnsafeTree(f"{rel or self.root} cannot be listed: {exc.strerror or exc}") from None
        for name in names:
            where = shown_join(rel, name)
            try:
                info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    subfolders.append(name)
                else:
                    self._fix_entry(name, info)
            except OSError as exc:
                raise UnsafeTree(f"{where} could not be made safe: {exc.strerror or exc}") from None
        return subfolders

    def _fix_entry(self, name: str, info: os.stat_result) -> None:
        self.report.entries += 1
        if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            os.unlink(name, dir_fd=self.fd)
            self.report.devices_removed += 1
        elif stat.S_ISLNK(info.st_mode):  # a link has no mode bits; its target is never touched
            if (info.st_uid, info.st_gid) != (self.uid, self.gid):
                os.chown(name, self.uid, self.gid, dir_fd=self.fd, follow_symlinks=False)
                self.report.owners_changed += 1
        else:
            handle = os.open(name, _OPEN_PATH, dir_fd=self.fd)
            try:
                self._fix(handle, os.fstat(handle))
            finally:
                os.close(handle)

    def _fix(self, handle: int, info: os.stat_result) -> None:
        """Owner, setid bits and capability of one file or folder, through its ``O_PATH`` handle."""
        if stat.S_ISLNK(info.st_mode) or stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            raise UnsafeTree("an entry changed into a link or a device while it was being made safe")
        proc = f"/proc/self/fd/{handle}"
        capable = stat.S_ISREG(info.st_mode) and _has_capability(proc)
        if (info.st_uid, info.st_gid) != (self.uid, self.gid):
            os.chown(proc, self.uid, self.gid)
            self.report.owners_changed += 1
        if info.st_mode & _SETID:
            self.report.setid_cleared += 1
        mode = stat.S_IMODE(os.fstat(handle).st_mode)  # a chown has cleared a file's setid bits
        wanted = mode & ~_SETID
        if stat.S_ISDIR(info.st_mode) and not self.privileged:
            wanted |= _OWNER_READ  # the account itself must be able to list and enter it
        if wanted != mode:
            os.chmod(proc, wanted)
        if capable:  # a chown by root has dropped it already; by anyone else it has not
            _drop_capability(proc)
            self.report.capabilities_removed += 1

    def _open_folder(self, handle: int, info: os.stat_result, where: str) -> int:
        """Make a folder safe through its handle, then open it for listing."""
        if info.st_dev != self.device or mount_id(handle) != self.mount:
            raise UnsafeTree(f"{where} is a mount point inside the restore; not entered")
        self.report.entries += 1
        self._fix(handle, info)
        return os.open(".", OPEN_DIR, dir_fd=handle)

    def _down(self, name: str, rel: str) -> tuple[int, int]:
        """Into a subfolder, made safe first; returns who it is."""
        try:
            handle = os.open(name, _OPEN_PATH | os.O_DIRECTORY, dir_fd=self.fd)
        except OSError as exc:
            raise UnsafeTree(f"{rel} cannot be entered: {exc.strerror or exc}") from None
        try:
            info = os.fstat(handle)
            child = self._open_folder(handle, info, rel)
        except UnsafeTree:
            raise
        except OSError as exc:
            raise UnsafeTree(f"{rel} could not be made safe: {exc.strerror or exc}") from None
        finally:
            os.close(handle)
        os.close(self.fd)
        self.fd = child
        return info.st_dev, info.st_ino

    def _up(self, expected: tuple[int, int]) -> None:
        """Back to the parent, which must be the folder the walk came down from."""
        self.fd, same = up(self.fd, expected)
        if not same:
            raise UnsafeTree(f"{self.root} was moved while it was being made safe; stopped")


def _has_capability(proc: str) -> bool:
    try:
        os.getxattr(proc, CAPABILITY)
    except OSError as exc:
        if exc.errno in _NO_XATTR:
            return False
        raise
    return True


def _drop_capability(proc: str) -> None:
    try:
        os.removexattr(proc, CAPABILITY)
    except OSError as exc:
        if exc.errno not in _NO_XATTR:
            raise

