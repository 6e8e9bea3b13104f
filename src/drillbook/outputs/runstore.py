"""Where run records live: ``reports/<drill>/<run_id>/run.json``, written atomically."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from drillbook.drill.record import utc_now

RUN_FILE = "run.json"
RESERVED = {"evidence", "runbooks", "assets"}


def new_run_id() -> str:
    """Sortable by time, unique across concurrent runs on one machine."""
    return utc_now().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def run_dir(reports: Path, name: str, run_id: str, kind: str = "drill") -> Path:
    base = reports / "runbooks" if kind == "runbook" else reports
    return base / name / run_id


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` in one rename: readers never see half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def iter_run_files(reports: Path) -> Iterator[Path]:
    """Every run.json of drills and runbooks under ``reports``."""
    if not reports.is_dir():
        return
    for top in sorted(reports.iterdir()):
        if not top.is_dir() or top.name.startswith("."):
            continue
        if top.name == "runbooks":
            yield from sorted(top.glob(f"*/*/{RUN_FILE}"))
        elif top.name not in RESERVED:
            yield from sorted(top.glob(f"*/{RUN_FILE}"))


def load_runs(reports: Path) -> list[dict[str, Any]]:
    """All readable records, newest first, each with ``_dir`` set to its folder."""
    runs = []
    for path in iter_run_files(reports):
        record = read_record(path)
        if record is not None:
            record["_dir"] = str(path.parent)
            runs.append(record)
    runs.sort(key=lambda r: r.get("started_at") or "", reverse=True)
    return runs
