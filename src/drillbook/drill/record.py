"""The run record: the single source of truth every report is rendered from.

Plain dataclasses serialised to ``run.json``; renderers only ever read the dict form, so a
record written by an older drillbook still renders.
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from drillbook import __version__

PASSED, FAILED, ABORTED, RUNNING, SKIPPED = "passed", "failed", "aborted", "running", "skipped"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with seconds precision and a Z, as auditors expect to read it."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Phase:
    name: str
    status: str
    started_at: str
    duration_seconds: float
    detail: str = ""


@dataclass
class CheckResult:
    type: str
    name: str
    status: str
    detail: str
    duration_seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Objective:
    target_seconds: float
    target: str
    measured_seconds: float | None = None
    met: bool | None = None


@dataclass
class RunRecord:
    run_id: str
    drill: str
    started_at: str
    kind: str = "drill"
    status: str = RUNNING
    reason: str | None = None
    finished_at: str | None = None
    description: str = ""
    owner: str = ""
    schedule: str | None = None
    trigger: str = "manual"
    snapshot: dict[str, Any] | None = None
    selector: str = ""
    repository: str = ""
    objectives: dict[str, Objective] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    content: dict[str, Any] | None = None
    immutability: dict[str, Any] = field(default_factory=lambda: {"status": "not_audited"})
    isolation: dict[str, Any] | None = None
    notifications: list[dict[str, Any]] = field(default_factory=list)
    restic_stderr_tail: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    process: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def host_versions(restic_version: str | None) -> dict[str, str]:
    return {
        "drillbook": __version__,
        "restic": restic_version or "unknown",
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
    }


def process_info(sandbox: str | None) -> dict[str, Any]:
    """Who owns a running record: lets ``cleanup`` tell a live run from an orphan."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "boot_time": _boot_time(),
        "process_start": _process_start(os.getpid()),
        "sandbox": sandbox,
    }


def _boot_time() -> float | None:
    try:
        for line in open("/proc/stat", encoding="ascii"):
            if line.startswith("btime"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _process_start(pid: int) -> int | None:
    """Start time in clock ticks from /proc: a recycled pid has a different one."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None

