"""Folders drillbook writes restores, records and keys into: refused when another account controls them.

drillbook often runs as root. If another local account could change what such a folder holds or
where it leads (it owns the folder, may write to it, may rename it away through a parent it can
write to, or the folder is a symlink), that account decides where root restores a snapshot with
its setuid files, and can read or swap the evidence. So each folder is checked before a run:

- the folder itself is a real folder (not a symlink), owned by drillbook's account, and neither
  its group nor others may write to it;
- every folder above it (as written and as it really is, symlinks followed) belongs to root or
  to drillbook's account, and is not writable by group or others unless it has the sticky bit
  (like /tmp, where nobody may rename what another account made).

A folder failing a check is refused, never repaired: it may already have been tampered with, and
the person fixing it should look first. A missing folder is made, every level with the folder's
own mode, after the folders above it passed.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from drillbook.errors import CannotRun
from drillbook.util.atomic import make_folders

WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


@dataclass(frozen=True)
class Folder:
    """One folder drillbook needs, and how to make it when it is missing."""

    path: Path
    what: str     # "sandbox root", "state", "reports": how messages name it
    option: str   # where it is configured, for the fix
    mode: int     # of every level made here
    group: str | None = None  # every level made belongs to it and passes it on (set-group-ID added)


def ensure_folder(folder: Folder, *, create: bool = True) -> None:
    """Make ``folder`` when missing (and ``create``), then raise CannotRun unless it is trusted."""
    path = Path(os.path.abspath(folder.path))
    gid = _group_id(folder.group) if folder.group else None
    uid = os.geteuid()
    problem = ancestor_problem(path, uid, folder.option)
    if problem is None and not os.path.lexists(path):
        if not create:
            return
        problem = _make(path, folder, gid)
    problem = problem or folder_problem(path, uid, folder.option) or group_problem(path, folder, gid)
    if problem:
        raise CannotRun(f"{folder.what} folder {path} {problem}")


def folder_problem(path: Path, uid: int, option: str) -> str | None:
    """What is wrong with the folder itself, with the fix; None when nothing is."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return (f"is a symlink (to {os.readlink(path)}): whoever can change the link decides where "
                f"drillbook writes; give the real folder with {option}")
    if not stat.S_ISDIR(info.st_mode):
        return f"is not a folder; remove it or choose another folder with {option}"
    if info.st_uid != uid:
        return (f"is owned by {account(info.st_uid)}, not by drillbook's account {account(uid)}: "
                f"that account could change what is inside; check its contents and remove it, or "
                f"choose another folder with {option}")
    if info.st_mode & WRITABLE_BY_OTHERS:
        return (f"is {_who_writes(info.st_mode)}-writable (mode {_mode(info.st_mode)}): other accounts "
                f"could change what is inside; check its contents, then chmod go-w {path}, or "
                f"choose another folder with {option}")
    return None


def ancestor_problem(path: Path, uid: int, option: str) -> str | None:
    """What is wrong with a folder above ``path`` (those that exist), with the fix."""
    for parent in ancestors(path):
        try:
            info = parent.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(info.st_mode):
            continue  # where it leads is checked as a real folder; the folder holding it, above
        if info.st_uid not in (0, uid):
            return (f"is inside {parent} (owned by {account(info.st_uid)}): that account could put "
                    "another folder in its place; choose a folder whose parents belong to root or "
                    f"to drillbook's account with {option}")
        if info.st_mode & WRITABLE_BY_OTHERS and not info.st_mode & stat.S_ISVTX:
            return (f"is inside {parent}, which is {_who_writes(info.st_mode)}-writable without the "
                    f"sticky bit (mode {_mode(info.st_mode)}): any account that can write there "
                    f"could put another folder in its place; chmod go-w {parent}, or choose "
                    f"another folder with {option}")
    return None


def ancestors(path: Path) -> list[Path]:
    """Every folder above ``path``: as written, and where the symlinks on the way really lead."""
    real_parent = Path(os.path.realpath(path.parent))
    seen: dict[Path, None] = dict.fromkeys([*path.parents, real_parent, *real_parent.parents])
    return list(seen)


def group_problem(path: Path, folder: Folder, gid: int | None) -> str | None:
    """A folder meant for a reader group must belong to it and pass it on to what is made inside."""
    if gid is None:
        return None
    info = path.stat()
    wanted = stat.S_ISGID | stat.S_IRGRP | stat.S_IXGRP
    if info.st_gid == gid and info.st_mode & wanted == wanted:
        return None
    return (f"should belong to group {folder.group} with mode 2750 (reports.group in drillbook.yaml), "
            f"so that what drillbook writes there can be read by that group; it is group "
            f"{_group_name(info.st_gid)}, mode {_mode(info.st_mode)}. After checking who should "
            f"read it: chgrp -R {folder.group} {path} && chmod -R g+rX,g-w,o-rwx {path} && "
            f"find {path} -type d -exec chmod g+s {{}} +")


def account(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _make(path: Path, folder: Folder, gid: int | None) -> str | None:
    try:
        make_folders(path, folder.mode | (stat.S_ISGID if gid is not None else 0), gid)
    except OSError as exc:
        return f"is not writable: cannot make it ({exc.strerror or exc})"
    return None


def _group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise CannotRun(f"reports.group {name} in drillbook.yaml: no such group on this host "
                        f"(create it with groupadd {name}, or remove reports.group)") from None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _who_writes(mode: int) -> str:
    return " and ".join(who for who, bit in (("group", stat.S_IWGRP), ("world", stat.S_IWOTH)) if mode & bit)


def _mode(mode: int) -> str:
    return f"{stat.S_IMODE(mode):04o}"
