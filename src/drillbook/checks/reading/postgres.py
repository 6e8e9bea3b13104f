"""What a restored PostgreSQL source says about itself, and making a restored data folder startable.

Both read or change the restore, so both run inside the sandbox (see the package docstring):
the format and version of a dump, the roles and database a plain dump creates, the version in
``PG_VERSION``; and, for a data folder, setting aside what would configure the server.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from drillbook.checks.services import pgbin
from drillbook.util.restored import NotInRestore, RestoredFileError, RestoredPath

#: Files of a restored data folder that would configure the server or start it in recovery.
SET_ASIDE = ("postgresql.auto.conf", "standby.signal", "recovery.signal", "recovery.conf")
SET_ASIDE_SUFFIX = ".drillbook-set-aside"
#: PostgreSQL truncates longer identifiers; more roles than this is no dump of a real database.
MAX_ROLE_CHARS = 63
MAX_ROLES = 1000
_PG_VERSION = re.compile(rb"\s*(\d+)(?:\.\d+)?\s*")


def source_answer(request: dict[str, Any]) -> dict[str, Any]:
    """The dump's format and origin, or the data folder's major version; ``error`` when unusable."""
    source = RestoredPath(Path(request["root"]), str(request["path"]))
    try:
        return _dump(source) if request["dump"] else _data_dir(source)
    except RestoredFileError as exc:
        return {"error": str(exc)}


def adopt_answer(request: dict[str, Any]) -> dict[str, Any]:
    """Make a restored PGDATA startable, and neutral: what it would configure is set aside.

    Everything happens through a descriptor of the folder (renameat, unlinkat and fchmod never
    follow a restored symlink); answers the names set aside. ``postmaster.pid`` is stale by
    definition in a restore and is removed.
    """
    source = RestoredPath(Path(request["root"]), str(request["path"]))
    try:
        fd = source.open_folder()
    except RestoredFileError as exc:
        return {"error": str(exc)}
    try:
        os.fchmod(fd, 0o700)
        with contextlib.suppress(FileNotFoundError):
            os.unlink("postmaster.pid", dir_fd=fd)
        moved = []
        for name in SET_ASIDE:
            try:
                os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            try:
                os.rename(name, name + SET_ASIDE_SUFFIX, src_dir_fd=fd, dst_dir_fd=fd)
            except OSError as exc:
                return {"error": f"cannot set {source.rel}/{name} aside: {exc.strerror}"}
            moved.append(name)
        return {"set_aside": moved}
    finally:
        os.close(fd)


def _dump(source: RestoredPath) -> dict[str, Any]:
    fmt = pgbin.dump_format(source)
    if fmt in ("gzip", "unknown"):
        why = "gzip-compressed; decompress it in the backup or use -Fc" if fmt == "gzip" else "no toc.dat"
        return {"error": f"{source.rel} is not a pg_dump file (custom, directory, tar or plain): {why}"}
    answer: dict[str, Any] = {"format": fmt}
    if fmt == "plain":
        answer["dumped_from"] = list(pgbin.dumped_from(pgbin.plain_header(source)))
        answer["roles"] = [r[:MAX_ROLE_CHARS] for r in pgbin.roles_in_plain_dump(source)[:MAX_ROLES]]
        answer["creates"] = pgbin.plain_creates_database(source)
    return answer


def _data_dir(source: RestoredPath) -> dict[str, Any]:
    """The major version in PG_VERSION; its content is never quoted (it may not be a version)."""
    if not source.is_folder():
        return {"error": f"{source.rel} is not a folder, so not a PostgreSQL data folder"}
    version = source.child("PG_VERSION")
    try:
        text = version.read()
    except NotInRestore:
        return {"error": f"{source.rel} is not a PostgreSQL data folder (no PG_VERSION)"}
    match = _PG_VERSION.fullmatch(text)
    if not match:
        return {"error": f"{version.rel} does not hold a PostgreSQL version number"}
    return {"pg_version": int(match.group(1))}
