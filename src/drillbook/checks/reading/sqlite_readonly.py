"""A SQLite connection that can only read one restored database, for a bounded time per statement.

Queries come from the drill file, the database from the backup; neither is trusted. ``mode=ro``
alone does not stop a query from reaching the host: ``ATTACH`` opens (and creates) any file
drillbook can, ``VACUUM INTO`` writes a copy anywhere. So, in layers:

* The database is opened by descriptor: the restored file was opened through
  :class:`~drillbook.util.restored.RestoredPath` (no symlink out of the restore, a regular file),
  and SQLite opens ``/proc/self/fd/N``, which is that very inode. Re-opening the verified path
  instead would let a lingering process swap it in between, and Python's ``sqlite3.connect`` has
  no ``SQLITE_OPEN_NOFOLLOW``. ``mode=ro&immutable=1``: no journal, WAL or lock file is created.
* ``SQLITE_LIMIT_ATTACHED`` is 0 and ``PRAGMA query_only`` is on; ``trusted_schema`` is off, so
  views and triggers of the restored schema cannot call functions with side effects.
* An authorizer allows reading only (SELECT, reading columns, recursive CTEs, functions other
  than :data:`DENIED_FUNCTIONS`, and the pragmas of :data:`READ_PRAGMAS` that only report):
  everything else, ATTACH and VACUUM INTO among it, is refused before it runs, and the refusal
  says which action it was.
* A progress handler stops a statement that runs past its time limit.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from drillbook.util.durations import format_duration
from drillbook.util.restored import RestoredPath

PROGRESS_STEPS = 10_000  # virtual machine instructions between two looks at the clock

#: Pragmas that only report; a value assigned to one of them is refused unless it names what to
#: report on (``PRAGMA table_info(t)``), see :data:`PRAGMAS_WITH_ARGUMENT`.
READ_PRAGMAS = frozenset({
    "integrity_check", "quick_check", "table_info", "table_xinfo", "table_list", "index_list",
    "index_info", "index_xinfo", "foreign_key_list", "foreign_key_check", "database_list",
    "collation_list", "function_list", "module_list", "pragma_list", "compile_options",
    "user_version", "application_id", "schema_version", "data_version", "page_count", "page_size",
    "freelist_count", "encoding", "journal_mode", "auto_vacuum", "max_page_count",
})
PRAGMAS_WITH_ARGUMENT = frozenset({
    "integrity_check", "quick_check", "table_info", "table_xinfo", "table_list", "index_list",
    "index_info", "index_xinfo", "foreign_key_list", "foreign_key_check",
})
#: Functions that reach outside the database, where the SQLite build has them.
DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer",
                              "sqlite_dbpage", "zipfile"})

#: A table-valued pragma (``select * from pragma_table_info('t')``) makes SQLite authorize an
#: update of the schema table while it sets the pragma's virtual table up; nothing is written
#: (the file is immutable, query_only is on, writable_schema is refused), so that one passes.
_SCHEMA = frozenset({"sqlite_master", "sqlite_schema"})
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}
_NAMES = {getattr(sqlite3, name): name.removeprefix("SQLITE_") for name in (
    "SQLITE_ATTACH", "SQLITE_DETACH", "SQLITE_INSERT", "SQLITE_UPDATE", "SQLITE_DELETE",
    "SQLITE_CREATE_TABLE", "SQLITE_CREATE_TEMP_TABLE", "SQLITE_CREATE_INDEX",
    "SQLITE_CREATE_TEMP_INDEX", "SQLITE_CREATE_VIEW", "SQLITE_CREATE_TEMP_VIEW",
    "SQLITE_CREATE_TRIGGER", "SQLITE_CREATE_TEMP_TRIGGER", "SQLITE_CREATE_VTABLE", "SQLITE_DROP_TABLE",
    "SQLITE_DROP_TEMP_TABLE", "SQLITE_DROP_INDEX", "SQLITE_DROP_TEMP_INDEX", "SQLITE_DROP_VIEW",
    "SQLITE_DROP_TEMP_VIEW", "SQLITE_DROP_TRIGGER", "SQLITE_DROP_TEMP_TRIGGER", "SQLITE_DROP_VTABLE",
    "SQLITE_ALTER_TABLE", "SQLITE_REINDEX", "SQLITE_ANALYZE", "SQLITE_TRANSACTION", "SQLITE_SAVEPOINT",
    "SQLITE_PRAGMA", "SQLITE_FUNCTION")}


class Refused(Exception):
    """A statement the guard stopped; the text is drillbook's and names what was refused."""


@dataclass
class Guard:
    """The authorizer and the clock of one connection; remembers why it last said no."""

    refused: str | None = None
    deadline: float | None = None
    limit: float = 0.0

    def authorize(self, action: int, arg1: str | None, arg2: str | None, db: str | None,
                  trigger: str | None) -> int:
        if action == sqlite3.SQLITE_UPDATE and arg1 in _SCHEMA and db == "main" and trigger is None:
            return sqlite3.SQLITE_OK  # see _SCHEMA
        why = _refusal(action, arg1, arg2)
        if why is None:
            return sqlite3.SQLITE_OK
        self.refused = self.refused or why  # the first refusal is the one the statement tripped on
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        return int(self.deadline is not None and time.monotonic() > self.deadline)


def _refusal(action: int, arg1: str | None, arg2: str | None) -> str | None:
    if action in _ALLOWED:
        return None
    if action == sqlite3.SQLITE_FUNCTION:
        return f"the function {arg2}()" if (arg2 or "").lower() in DENIED_FUNCTIONS else None
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in READ_PRAGMAS and (arg2 is None or name in PRAGMAS_WITH_ARGUMENT):
            return None
        return f"PRAGMA {name}" + (" with a value" if arg2 is not None else "")
    if action == sqlite3.SQLITE_INSERT and arg1 in _SCHEMA:
        return "changing the schema"
    return _NAMES.get(action, f"action {action}")


class ReadOnlyDatabase:
    """One restored database, open for guarded reading (see the module docstring)."""

    def __init__(self, source: RestoredPath):
        self.fd = source.open_fd()
        self.guard = Guard()
        try:
            self.conn = sqlite3.connect(f"file:/proc/self/fd/{self.fd}?mode=ro&immutable=1", uri=True)
        except BaseException:
            os.close(self.fd)
            raise
        try:
            self._lock_down()
        except BaseException:
            self.close()
            raise

    def _lock_down(self) -> None:
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self.conn.execute("PRAGMA query_only = 1")
        self.conn.execute("PRAGMA trusted_schema = OFF")
        self.conn.set_authorizer(self.guard.authorize)
        self.conn.set_progress_handler(self.guard.progress, PROGRESS_STEPS)

    def first_value(self, sql: str, limit: float) -> Any:
        """The first column of the first row; Refused or sqlite3.Error when it cannot be had."""
        with self._timed(limit):
            try:
                row = self.conn.execute(sql).fetchone()
            except sqlite3.Error:
                self._raise_why()
                raise
        return row[0] if row else None

    @contextmanager
    def _timed(self, limit: float) -> Iterator[None]:
        self.guard.refused = None
        self.guard.limit = limit
        self.guard.deadline = time.monotonic() + limit
        try:
            yield
        finally:
            self.guard.deadline = None

    def _raise_why(self) -> None:
        if self.guard.refused is not None:
            raise Refused(f"refused: {self.guard.refused} (a sqlite check only reads the restored "
                          "database)") from None
        if self.guard.deadline is not None and time.monotonic() > self.guard.deadline:
            raise Refused(f"stopped after {format_duration(self.guard.limit)} (the time limit of a "
                          "query)") from None

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            os.close(self.fd)
