"""Querying a restored SQLite database through the read-only guard, for the ``sqlite`` check.

The answer is the check's results list as the record keeps it: each query's SQL, expectation,
value (shown as text, capped) and whether it was met, or the error that stopped it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from drillbook.checks.expectations import parse_expectation, show_value
from drillbook.checks.reading.sqlite_readonly import ReadOnlyDatabase, Refused
from drillbook.util.restored import RestoredFileError, RestoredPath

#: A value kept in the record: a restored database may hold a megabyte in one cell.
MAX_VALUE_CHARS = 1000


def sqlite_answer(request: dict[str, Any]) -> dict[str, Any]:
    """``results`` (integrity_check first, then each query), or ``error`` when it cannot be opened.

    ``limits`` holds the seconds each statement may run: ``integrity`` and ``query``.
    """
    path = str(request["path"])
    try:
        db = ReadOnlyDatabase(RestoredPath(Path(request["root"]), path))
    except RestoredFileError as exc:
        return {"error": str(exc)}
    except sqlite3.Error as exc:
        return {"error": f"cannot open {path}: {exc}"}
    try:
        return _answers(db, list(request["queries"]), dict(request["limits"]))
    finally:
        db.close()


def _answers(db: ReadOnlyDatabase, queries: list[dict[str, Any]], limits: dict[str, float]) -> dict[str, Any]:
    try:
        integrity = db.first_value("PRAGMA integrity_check", float(limits["integrity"]))
    except (sqlite3.Error, Refused) as exc:
        return {"error": f"not a readable SQLite database: {exc}"}
    results: list[dict[str, Any]] = [{"sql": "PRAGMA integrity_check", "expect": "ok",
                                      "value": capped(show_value(integrity)), "passed": integrity == "ok"}]
    for query in queries:
        expectation = parse_expectation(str(query["expect"]), exact=bool(query.get("exact")))
        try:
            value = db.first_value(query["sql"], float(limits["query"]))
            results.append({"sql": query["sql"], "expect": query["expect"],
                            "value": capped(show_value(value)), "passed": expectation.check(value)})
        except (sqlite3.Error, Refused) as exc:
            results.append({"sql": query["sql"], "expect": query["expect"], "error": str(exc),
                            "passed": False})
    return {"results": results}


def capped(text: str) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return f"{text[:MAX_VALUE_CHARS]}... ({len(text)} characters)"
