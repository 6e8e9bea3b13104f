"""Damaged copies of a restore, for negative controls (see drill/controls.py).

Run inside the sandbox like every reader, as the sandbox account: the copy is made by the same
unprivileged process that may read the restore, into a folder of the account's, never by drillbook's
own process following a restored symlink. The restore is only read; nothing in the copy shares an
inode with it (no hard links), so cutting a copied file never cuts the restored one.

Every copy starts as the restore's folders without a single file (the empty restore); the other
kinds then add only what their check reads:

- ``mirror``: the names below ``path`` as empty files, less the ``drop``ped ones, or only ``limit``
  of them with the ``first`` ones kept (a ``files`` check reads names, never content);
- ``truncate``: the file at ``path``, or every regular file below the folder at ``path``, holding
  the first half of its bytes (a database or dump cut short).

``none`` removes the copy and builds nothing: what is left after the last control.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from drillbook.util.dirfd import walk
from drillbook.util.restored import RestoredFileError, RestoredPath

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


def damage_answer(request: dict[str, Any]) -> dict[str, Any]:
    """Build the damaged copy ``request["damage"]`` describes at ``into``; ``files`` it holds."""
    root, into, damage = Path(request["root"]), Path(request["into"]), dict(request["damage"])
    remove(into)
    kind = damage.get("kind")
    if kind == "none":
        return {"files": 0}
    into.mkdir(mode=0o700)
    folders(root, into)
    try:
        if kind == "empty":
            return {"files": 0}
        if kind == "mirror":
            return {"files": mirror(root, into, str(damage["path"]), [str(d) for d in damage.get("drop", [])],
                                    damage.get("limit"), [str(f) for f in damage.get("first", [])])}
        if kind == "truncate":
            return {"files": truncate(root, into, str(damage["path"]))}
    except RestoredFileError as exc:
        return {"error": str(exc)}
    return {"error": f"no damage of kind {kind!r}"}


def remove(into: Path) -> None:
    """The previous copy, whatever a check left there (a symlink is removed, never followed)."""
    if into.is_symlink() or (into.exists() and not into.is_dir()):
        into.unlink()
    elif into.exists():
        shutil.rmtree(into)


def folders(root: Path, into: Path) -> None:
    """The restore's folders, empty: every check that only finds no file fails on this copy."""
    for folder, name, info in walk(root):
        if stat.S_ISDIR(info.st_mode):
            (into / folder / name).mkdir(mode=0o700)


def mirror(root: Path, into: Path, path: str, drop: list[str], limit: int | None, first: list[str]) -> int:
    """The names below ``path`` as empty files; returns how many."""
    dest = into / _norm(path)
    dest.mkdir(parents=True, exist_ok=True)
    skipped = {_norm(d) for d in drop}
    written: set[str] = set()
    for rel in (_norm(f) for f in first):
        if len(written) == limit:
            break
        if _exists(root, str(PurePosixPath(path) / rel)):
            _placeholder(dest / rel)
            written.add(rel)
    fd = RestoredPath(root, path).open_folder()
    try:
        for folder, name, info in walk(fd):
            rel = _norm(str(PurePosixPath(folder) / name))
            if rel in written or any(rel == d or rel.startswith(d + "/") for d in skipped):
                continue
            if stat.S_ISDIR(info.st_mode):
                (dest / rel).mkdir(parents=True, exist_ok=True)
            elif limit is None or len(written) < limit:
                _placeholder(dest / rel)
                written.add(rel)
    finally:
        os.close(fd)
    return len(written)


def truncate(root: Path, into: Path, path: str) -> int:
    """``path`` (a file, or each regular file of a folder) cut to half its size; returns how many."""
    source = RestoredPath(root, path)
    if not source.is_folder():
        _copy_half(source, into / _norm(path))
        return 1
    count = 0
    fd = source.open_folder()
    try:
        for folder, name, info in walk(fd):
            rel = str(PurePosixPath(folder) / name)
            if stat.S_ISDIR(info.st_mode):
                (into / _norm(path) / rel).mkdir(parents=True, exist_ok=True)
            elif stat.S_ISREG(info.st_mode):
                _copy_half(RestoredPath(root, str(PurePosixPath(path) / rel)), into / _norm(path) / rel)
                count += 1
    finally:
        os.close(fd)
    return count


def _copy_half(source: RestoredPath, dest: Path) -> None:
    """The first half of ``source`` into a new file: copy_file_range shares extents where the
    filesystem can (a reflink), else copies; either way a file of its own."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = source.open_fd()
    try:
        left = os.fstat(src).st_size // 2
        out = os.open(dest, _NEW_FILE, 0o600)
        try:
            while left > 0:
                done = _copy_some(src, out, min(left, _CHUNK))
                if done == 0:
                    break
                left -= done
        finally:
            os.close(out)
    finally:
        os.close(src)


def _copy_some(src: int, out: int, count: int) -> int:
    try:
        return os.copy_file_range(src, out, count)
    except OSError:  # a filesystem without it (EXDEV, EINVAL, ENOSYS): plain reads and writes
        data = os.read(src, count)
        return os.write(out, data) if data else 0


def _placeholder(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, _NEW_FILE, 0o600))


def _exists(root: Path, rel: str) -> bool:
    try:
        RestoredPath(root, rel).stat()
    except RestoredFileError:
        return False
    return True


def _norm(path: str) -> str:
    return str(PurePosixPath(path))
