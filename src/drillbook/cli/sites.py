"""``drillbook worker``, ``dispatch`` and ``workers``: drills on site workers, one central record.

Exit codes of ``dispatch --wait`` are those of ``run`` (cli/exitcodes.py); without ``--wait`` it
exits 0 once every run is queued, 3 when a drill already has a run under way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import click

from drillbook.cli import exitcodes
from drillbook.cli.console import out, terminal_safe
from drillbook.cli.tables import print_table
from drillbook.drill import batch
from drillbook.errors import CannotRun
from drillbook.settings import Settings
from drillbook.sites import worker
from drillbook.sites.central import Central, connect, workers_of
from drillbook.sites.outbox import Row
from drillbook.spec.loader import load_drills, load_project
from drillbook.util.durations import parse_duration
from drillbook.util.lazy import lazy_module
from drillbook.util.scrub import mask_url

celeryapp = lazy_module("drillbook.sites.celeryapp")  # Celery: loaded only when sites are used

WAIT_POLL = 0.5


@click.command("worker")
@click.option("--site", required=True, help="The site whose drills this worker runs (a drill's site:).")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Drills this worker runs at the same time.")
@click.option("--name", default=None, help="The worker's name [default: SITE@HOSTNAME].")
@click.pass_obj
def worker_command(settings: Settings, site: str, concurrency: int, name: str | None) -> None:
    """Run the drills of one site as they are dispatched, until stopped (a Celery worker)."""
    project, _problems = load_project(settings.drills_dir)
    workers = workers_of(project, settings.drills_dir)
    batch.ensure_can_run(settings, project)
    worker.serve_site(settings, site, concurrency, connect(workers, settings.drills_dir),
                      float(workers.heartbeat), name, float(workers.keep_staged))


@click.command("dispatch", epilog=exitcodes.epilog())
@click.argument("names", nargs=-1, required=True)
@click.option("--wait", is_flag=True, help="Wait until every run is received, sealed and in the index.")
@click.option("--timeout", default=None, metavar="DURATION",
              help="With --wait: give up after this long (exit 3) [default: 3 x the longest RTO + 5m].")
@click.pass_obj
def dispatch_command(settings: Settings, names: tuple[str, ...], wait: bool, timeout: str | None) -> None:
    """Run drills NAMES now on their sites' workers; with --wait, exit as run does."""
    loaded = batch.load_checked(settings, names)
    batch.ensure_folders(settings, loaded.config)
    central = Central(settings, loaded.config, connect(workers_of(loaded.config, settings.drills_dir),
                                                       settings.drills_dir))
    started = []
    for name in names:
        sent = central.dispatch(loaded.drills[name], trigger="dispatch")
        if sent.run_id is None:
            raise CannotRun(f"{name}: not dispatched: {sent.busy}")
        out.print(f"{name}: dispatched run {sent.run_id} to site {loaded.drills[name].site}", markup=False)
        started.append(sent.run_id)
    if not wait:
        return
    limit = parse_duration(timeout) if timeout else 3 * max(float(loaded.drills[n].objectives.rto)
                                                             for n in names) + 300
    rows = wait_for(central, started, time.monotonic() + limit)
    for row in rows:
        out.print(f"{row.drill}: {row.status} ({terminal_safe(row.reason or 'no reason given')}) "
                  f"report: {settings.reports_dir / row.drill / row.run_id / 'report.html'}", markup=False)
    sys.exit(exitcodes.for_statuses(str(row.status) for row in rows))


def wait_for(central: Central, run_ids: Sequence[str], deadline: float) -> list[Row]:
    """Poll until each run is closed (received and sealed, or recorded lost/failed)."""
    while True:
        central.poll()
        rows = [central.outbox.get(run_id) for run_id in run_ids]
        if all(row is not None and not row.open for row in rows):
            return [row for row in rows if row is not None]
        if time.monotonic() > deadline:
            waiting = ", ".join(f"{row.drill} {row.run_id} ({row.state})" for row in rows if row and row.open)
            raise CannotRun(f"gave up waiting for {waiting}; the runs continue and `drillbook serve` "
                            "receives them when they finish")
        time.sleep(WAIT_POLL)


@click.command("workers")
@click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds to wait for answers.")
@click.pass_obj
def workers_command(settings: Settings, timeout: float) -> None:
    """Workers online, their sites, concurrency and runs; sites with drills but no worker are problems."""
    project, _problems = load_project(settings.drills_dir)
    workers = workers_of(project, settings.drills_dir)
    try:
        seen = celeryapp.inspect(connect(workers, settings.drills_dir), timeout)
    except CannotRun:
        raise
    except Exception as exc:  # kombu's OperationalError and the like: the broker is not there
        raise CannotRun(f"cannot reach the broker {mask_url(workers.broker)}: {exc}") from None
    rows = [[w.name, ",".join(w.sites) or "-", str(w.concurrency or "?"),
             ", ".join(f"{p.get('drill')} {p.get('run_id')}" for p in w.running) or "idle"] for w in seen]
    print_table(("worker", "sites", "concurrency", "running"), rows)
    missing = sites_without_workers(settings, {site for w in seen for site in w.sites})
    for site, drills in sorted(missing.items()):
        out.print(f"problem: site {site} has drills ({', '.join(drills)}) but no worker online", markup=False)
    sys.exit(exitcodes.FAILED if missing else exitcodes.PASSED)


def sites_without_workers(settings: Settings, online: set[str]) -> dict[str, list[str]]:
    """Each site with declared drills and no worker consuming its queue: its drills."""
    missing: dict[str, list[str]] = {}
    for name, drill in sorted(load_drills(settings.drills_dir).drills.items()):
        if drill.site not in online:
            missing.setdefault(drill.site, []).append(name)
    return missing
