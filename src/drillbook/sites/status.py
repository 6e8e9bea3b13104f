"""What ``drillbook schedule`` adds with site workers: drills whose site has no worker online, and
runs at the sites (open, re-published after a broker lost them, stopped or recorded lost).

One :class:`SiteStatus` feeds both the text lines and ``--json``, so they never say different things.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drillbook.settings import Settings
from drillbook.sites.central import connect
from drillbook.sites.outbox import Outbox, Row, State
from drillbook.spec.models import Drill, WorkersConfig
from drillbook.util.lazy import lazy_module

celeryapp = lazy_module("drillbook.sites.celeryapp")  # Celery: loaded only when sites are used

INSPECT_TIMEOUT = 1.0
STOPPED = (State.LOST, State.OVERRUN)  # closed here, not by their worker: worth a look


@dataclass(frozen=True)
class Problem:
    drill: str
    site: str
    problem: str


@dataclass(frozen=True)
class SiteStatus:
    online: set[str] | None  # sites some worker consumes now; None when the broker cannot be asked
    problems: list[Problem]
    runs: list[Row]

    def lines(self) -> list[str]:
        """Problems first, then the site runs worth a look."""
        return ([f"problem: drill {p.drill}: {p.problem}" for p in self.problems]
                + [_run_line(row) for row in self.runs])

    def to_dict(self) -> dict[str, Any]:
        return {"workers_online": sorted(self.online) if self.online is not None else None,
                "problems": [{"drill": p.drill, "site": p.site, "problem": p.problem} for p in self.problems],
                "runs": [_run_dict(row) for row in self.runs]}


def site_status(settings: Settings, workers: WorkersConfig, drills: Mapping[str, Drill]) -> SiteStatus:
    online = online_sites(settings, workers)
    problems = []
    for name, drill in sorted(drills.items()):
        if online is None:
            problems.append(Problem(name, drill.site,
                                    f"the broker cannot be reached to see site {drill.site}'s workers"))
        elif drill.site not in online:
            problems.append(Problem(name, drill.site, f"site {drill.site} has no worker online"))
    outbox = Outbox(settings.state_dir)
    try:
        runs = [row for row in outbox.recent() if row.open or row.publishes > 1 or row.state in STOPPED]
    finally:
        outbox.close()
    return SiteStatus(online, problems, runs)


def _run_line(row: Row) -> str:
    again = f", republished {row.publishes - 1}x (the broker lost its message)" if row.publishes > 1 else ""
    why = f" ({row.reason})" if row.reason and row.state in STOPPED else ""
    return f"site run: {row.drill} {row.run_id} at {row.site}: {row.state}{again}{why}"


def _run_dict(row: Row) -> dict[str, Any]:
    return {"drill": row.drill, "run_id": row.run_id, "site": row.site, "state": str(row.state),
            "worker": row.worker, "republished": row.publishes - 1, "status": row.status,
            "reason": row.reason if row.state in STOPPED else None}


def online_sites(settings: Settings, workers: WorkersConfig) -> set[str] | None:
    """Sites some worker consumes now; None when the broker cannot be asked."""
    try:
        seen = celeryapp.inspect(connect(workers, settings.drills_dir), INSPECT_TIMEOUT)
    except Exception:  # the broker away: said so per drill
        return None
    return {site for worker in seen for site in worker.sites}
