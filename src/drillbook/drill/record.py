"""The run record: the single source of truth every report is rendered from.

Plain dataclasses serialised to ``run.json``; renderers only ever read the dict form, so a
record written by an older drillbook still renders.
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from drillbook import __version__
from drillbook.status import Status
from drillbook.util.procfs import boot_id, boot_time, process_start


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
    status: str = Status.RUNNING
    reason: str | None = None
    finished_at: str | None = None
    description: str = ""
    owner: str = ""
    schedule: str | None = None
    #: Since when drillbook has seen the drill declared, and its schedule (evidence.sightings).
    declared: dict[str, Any] | None = None
    trigger: str = "manual"
    snapshot: dict[str, Any] | None = None
    selector: str = ""
    repository: str = ""
    credentials: str | None = None  # how restic reached the repository's storage (S3 only)
    objectives: dict[str, Objective] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)  # {check, damage, caught}: drill/controls.py
    services: list[dict[str, Any]] = field(default_factory=list)  # the drill's stack, in start order
    content: dict[str, Any] | None = None
    restore: dict[str, Any] | None = None  # who restic restored as, and what was made safe after
    immutability: dict[str, Any] = field(default_factory=lambda: {"status": "not_audited"})
    isolation: dict[str, Any] | None = None
    notifications: list[dict[str, Any]] = field(default_factory=list)
    restic_stderr_tail: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    process: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def host_versions(restic_version: str | None) -> dict[str, str]:
    """What ran the drill. Without ``restic_version`` (restic not reached yet) there is no
    ``restic`` key: the record is written with these at its start, so that a run killed early
    still names drillbook, Python and the host."""
    versions = {
        "drillbook": __version__,
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
    }
    return versions | ({"restic": restic_version} if restic_version else {})


def process_info(sandbox: str | None) -> dict[str, Any]:
    """Who owns a running record: lets ``cleanup`` tell a live run from an orphan.

    The boot id and the start time in clock ticks since boot name the owner whatever the wall
    clock does; the boot time stays for drillbooks that read records without a boot id.
    """
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "boot_id": boot_id(),
        "boot_time": boot_time(),
        "process_start": process_start(os.getpid()),
        "sandbox": sandbox,
    }
