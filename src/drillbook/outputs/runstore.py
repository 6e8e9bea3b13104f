"""Where run records live: ``reports/<drill>/<run_id>/run.json``, written atomically."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from drillbook.util.clock import utc_now

RUN_FILE = "run.json"
RESERVED = {"evidence", "runbooks", "assets"}


class RunKind(StrEnum):
    """The ``kind`` of a run record: a drill's or a runbook's."""

    DRILL = "drill"
    RUNBOOK = "runbook"


def new_run_id() -> str:
    """Sortable by time, unique across concurrent runs on one machine."""
    return utc_now().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def run_dir(reports: Path, name: str, run_id: str, kind: str = RunKind.DRILL) -> Path:
    base = reports / "runbooks" if kind == RunKind.RUNBOOK else reports
    return base / name / run_id


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
