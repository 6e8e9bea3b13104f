"""What ``drillbook schedule`` adds with site workers: drills whose site has no worker online, and
runs at the sites (open, re-published after a broker lost them, recorded lost)."""

from __future__ import annotations

from collections.abc import Mapping

from drillbook.settings import Settings
from drillbook.sites.central import connect
from drillbook.sites.outbox import Outbox, Row, State
from drillbook.spec.models import Drill, WorkersConfig
from drillbook.util.lazy import lazy_module

celeryapp = lazy_module("drillbook.sites.celeryapp")  # Celery: loaded only when sites are used

INSPECT_TIMEOUT = 1.0
STOPPED = (State.LOST, State.OVERRUN)  # closed here, not by their worker: worth a look


def site_lines(settings: Settings, workers: WorkersConfig, drills: Mapping[str, Drill]) -> list[str]:
    """Problems first (a drill whose site has no worker online), then the site runs worth a look."""
    online = online_sites(settings, workers)
    lines = []
    for name, drill in sorted(drills.items()):
        if online is None:
            lines.append(f"problem: drill {name}: the broker cannot be reached to see site {drill.site}'s workers")
        elif drill.site not in online:
            lines.append(f"problem: drill {name}: site {drill.site} has no worker online")
    outbox = Outbox(settings.state_dir)
    try:
        lines += [_run_line(row) for row in outbox.recent() if row.open or row.publishes > 1 or row.state in STOPPED]
    finally:
        outbox.close()
    return lines


def _run_line(row: Row) -> str:
    again = f", republished {row.publishes - 1}x (the broker lost its message)" if row.publishes > 1 else ""
    why = f" ({row.reason})" if row.reason and row.state in STOPPED else ""
    return f"site run: {row.drill} {row.run_id} at {row.site}: {row.state}{again}{why}"


def online_sites(settings: Settings, workers: WorkersConfig) -> set[str] | None:
    """Sites some worker consumes now; None when the broker cannot be asked."""
    try:
        seen = celeryapp.inspect(connect(workers, settings.drills_dir), INSPECT_TIMEOUT)
    except Exception:  # the broker away: said so per drill
        return None
    return {site for worker in seen for site in worker.sites}
