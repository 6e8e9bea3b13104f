"""``drillbook cleanup``: finish the records of runs whose drillbook died; parse, call, print, exit."""

from __future__ import annotations

import json
import sys

import click

from drillbook.cli.console import out, terminal_safe
from drillbook.drill.batch import ensure_folders
from drillbook.sandbox.reaper import reap_stale_runs
from drillbook.settings import Settings
from drillbook.util.plain import strip_controls_in


@click.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Only list stale runs and their leftover processes.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_obj
def cleanup_command(settings: Settings, dry_run: bool, as_json: bool) -> None:
    """Kill what crashed runs left running, remove their sandboxes, mark them aborted.

    A run is stale when its record says running but its drillbook process is gone (killed,
    crashed, or the machine restarted). Runs of live processes and of other hosts are left alone.
    What is printed names drills, runs and sandboxes as their records do, so it is filtered first.
    """
    ensure_folders(settings, create=False)
    reaped = reap_stale_runs(settings, dry_run=dry_run)
    if as_json:
        out.print_json(json.dumps(strip_controls_in([r.to_dict() for r in reaped])))
        sys.exit(0)
    if not reaped:
        out.print(f"no stale runs under {settings.reports_dir}", markup=False)
    for r in reaped:
        verb = "would clean up" if dry_run else "cleaned up"
        sandbox = f"; sandbox {r.sandbox}" + (" removed" if r.sandbox_removed else "") if r.sandbox else ""
        out.print(terminal_safe(f"{verb} {r.kind} {r.drill} run {r.run_id}: {r.owner}; "
                                f"{r.killed} leftover process(es){sandbox}"), markup=False)
    sys.exit(0)
