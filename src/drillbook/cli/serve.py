"""``drillbook serve`` and ``drillbook schedule``: parse, call the scheduler library, print, exit."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from drillbook.cli import jsonout
from drillbook.cli.console import problem_fields, tell
from drillbook.cli.tables import print_table
from drillbook.errors import BadInput, SpecProblem
from drillbook.evidence import sightings
from drillbook.serve.duestatus import DEFAULT_OVERRUN_FACTOR, due_status, recent_runs
from drillbook.serve.jobstore import SERVE_LOCK, read_state
from drillbook.serve.schedules import fingerprint, parse_schedule
from drillbook.settings import Settings
from drillbook.spec.loader import load_drills
from drillbook.util.durations import DurationError, parse_duration
from drillbook.util.lazy import lazy_module
from drillbook.util.locks import LockBusy, file_lock

if TYPE_CHECKING:
    from drillbook.drill import batch as drill_actions
    from drillbook.sites import status as sites_status
else:
    # `schedule` reads drills, never runs one: the run's checks (restic, the overrun guard) and
    # the sites' queues load for `serve`, and for a project with workers
    drill_actions = lazy_module("drillbook.drill.batch")
    sites_status = lazy_module("drillbook.sites.status")

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


class DurationParam(click.ParamType):
    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_duration(str(value))
        except DurationError as exc:
            self.fail(str(exc), param, ctx)




@click.command("serve")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Drills that may run at the same time (one drill never runs twice at once).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address of /metrics.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus /metrics and /healthz on this port (0: any free port).")
@click.option("--grace", type=DurationParam(), default="5m", show_default=True,
              help="On SIGTERM/SIGINT, how long running drills may finish before they are aborted.")
@click.option("--abort-grace", type=DurationParam(), default="1m", show_default=True,
              help="After aborting a drill (SIGTERM), how long before it is killed.")
@click.option("--overrun-factor", type=click.FloatRange(min=1.0), default=DEFAULT_OVERRUN_FACTOR,
              show_default=True, help="Stop and fail a run that takes longer than this many times its RTO.")
@click.option("--misfire-grace", type=DurationParam(), default=None,
              help="Skip a missed run older than this at start-up [default: always catch up, once].")
@click.pass_obj
def serve_command(settings: Settings, concurrency: int, metrics_host: str, metrics_port: int | None,
                  grace: float, abort_grace: float, overrun_factor: float,
                  misfire_grace: float | None) -> None:
    """Run the declared drills on their schedules until SIGTERM/SIGINT (exit 0).

    SIGHUP or a change in the drills folder reloads the drills. Structured log lines on stderr.
    """
    from drillbook.serve.server import ServeOptions, serve  # start-up: prometheus_client ~75 ms

    if not settings.drills_dir.is_dir():
        raise BadInput(f"drills folder {settings.drills_dir} does not exist",
                       [SpecProblem(settings.drills_dir, None, "", "drills folder does not exist "
                                    "(give --drills or DRILLBOOK_DRILLS)")])
    drill_actions.ensure_can_run(settings)
    options = ServeOptions(concurrency=concurrency, metrics_host=metrics_host, metrics_port=metrics_port,
                           grace=grace, abort_grace=abort_grace, overrun_factor=overrun_factor,
                           misfire_grace=misfire_grace)
    sys.exit(serve(settings, options))


@click.command("schedule")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per drill, as a list.")
@click.pass_obj
def schedule_command(settings: Settings, as_json: bool) -> None:
    """Each drill's schedule, next run (UTC and the drill's zone), last run, and overdue flag."""
    loaded = load_drills(settings.drills_dir)
    sightings.notice(settings.state_dir, loaded)
    state = read_state(settings.state_dir)
    now = datetime.now(UTC)
    rows = []
    for name, drill in sorted(loaded.drills.items()):
        stored = state.get(name)
        jitter = float(drill.jitter) if drill.jitter else None
        if stored and stored.fingerprint != fingerprint(drill.schedule, drill.timezone, jitter):
            stored = None  # the server has not picked up the drill's new schedule yet
        rows.append(due_status(drill, recent_runs(settings.reports_dir, name), now,
                               stored_next=stored.next_run if stored else None,
                               scheduled_since=stored.scheduled_since if stored else None))
    server = server_state(settings.state_dir)
    workers = loaded.config.workers
    sites = sites_status.site_status(settings, workers, loaded.drills) if workers is not None else None
    if as_json:
        jsonout.emit(jsonout.schedule(server, [r.to_dict() for r in rows], loaded.problems,
                                      sites.to_dict() if sites else None))
    else:
        _print_table(rows, server)
        for line in sites.lines() if sites else []:
            out.print(line, markup=False)
    if loaded.problems:
        if not as_json:
            for problem in loaded.problems:
                tell(str(problem), logging.ERROR, **problem_fields(problem))
        sys.exit(2)


def _print_table(rows: list, server: str) -> None:
    cells = []
    for r in rows:
        d = r.to_dict()
        schedule = parse_schedule(r.schedule).describe() if r.schedule else "on demand"
        if r.timezone != "UTC" and r.schedule:
            schedule += f" [{r.timezone}]"
        last = f"{d['last_status']} {d['last_started_at']}" if r.last_status else "never"
        overdue = f"OVERDUE (due {d['due']})" if r.overdue else ("no" if r.schedule else "-")
        cells.append([r.name, schedule, d["next_run"] or "-", d["next_run_local"] or "-", last, overdue])
    print_table(("drill", "schedule", "next run (UTC)", "next run (local)", "last run", "overdue"), cells, out)
    out.print(f"server: {server}", markup=False)


def server_state(state_dir: Path) -> str:
    """'running (pid N)' while a server holds the state folder's lock, else 'not running'."""
    path = state_dir / SERVE_LOCK
    if not path.exists():
        return "not running (never started with this state folder)"
    try:
        with file_lock(path, timeout=0, shared=True, mode=0o644):
            return "not running"
    except LockBusy as busy:
        return f"running (pid {busy.holder or '?'})"
    except OSError:
        return "unknown"
