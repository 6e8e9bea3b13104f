"""What restic >= 0.17 prints as JSON during a restore, read into what drillbook uses.

stdout carries ``status`` lines (the progress) and one ``summary`` (the counts the record keeps).
stderr carries each error as JSON since 0.17.1 (``error`` with the file it hit) and, since 0.18,
the final one as ``exit_error``. Those are turned back into the lines 0.14 prints (``ignoring
error for <file>: ...``, ``Fatal: ...``): the classification of failures, the names of affected
files and the devices an unprivileged restore could not make are then read one way for every
version, and the stderr tail a person reads looks the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from drillbook.util.plain import strip_controls


@dataclass(frozen=True)
class RestoreCounts:
    """One status (under way) or the summary (done) of ``restic restore --json``."""

    files_restored: int
    total_files: int
    bytes_restored: int
    total_bytes: int
    percent_done: float | None = None  # only in a status; the summary is done

    def record(self) -> dict[str, int]:
        return {"files_restored": self.files_restored, "total_files": self.total_files,
                "bytes_restored": self.bytes_restored, "total_bytes": self.total_bytes}


def _message(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("message_type"), str) else None


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if type(value) is int and value >= 0 else 0


def restore_message(line: str) -> tuple[str, RestoreCounts] | None:
    """(``status`` or ``summary``, its counts) for such a line of stdout, else None."""
    data = _message(line)
    if data is None or data["message_type"] not in ("status", "summary"):
        return None
    percent = data.get("percent_done")
    counts = RestoreCounts(_count(data, "files_restored"), _count(data, "total_files"),
                           _count(data, "bytes_restored"), _count(data, "total_bytes"),
                           float(percent) if isinstance(percent, (int, float)) and data["message_type"] == "status"
                           else None)
    return data["message_type"], counts


def plain_stderr_line(line: str) -> str:
    """A JSON error of restic's stderr as restic 0.14 words it; any other line as it is.

    The file named in an error comes from the snapshot: hostile. It loses its control characters
    (a newline in it must not forge another line of restic's), as its plain form would on a terminal.
    """
    data = _message(line)
    if data is None:
        return line
    if data["message_type"] == "error":
        error = data.get("error")
        text = error.get("message") if isinstance(error, dict) else None
        item = strip_controls(str(data.get("item") or ""), keep="")
        return f"ignoring error for {item}: {text}\n" if item else f"{text}\n"
    if data["message_type"] == "exit_error":
        return str(data.get("message") or "").rstrip("\n") + "\n"
    return line
