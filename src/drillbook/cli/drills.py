"""``drillbook validate|list|run``: parse, call the drill library, print, exit.

Exit codes of ``run`` (cli/exitcodes.py): 0 when every drill passed, 1 when one did not, 130/143
when a signal stopped it; 2 and 3 come from the errors (BadInput, CannotRun) through the group:
3 too when another process runs the same drill (unless ``--wait-lock`` waits for it).
"""

from __future__ import annotations

import re
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from drillbook.backends.repository import shown_repository
from drillbook.cli import exitcodes, jsonout
from drillbook.cli.completion import complete_drills
from drillbook.cli.console import out, tell
from drillbook.cli.tables import print_table
from drillbook.drill import batch
from drillbook.errors import BadInput
from drillbook.evidence import sightings
from drillbook.outputs.runstore import load_runs
from drillbook.runbook.loading import validate_with_runbooks
from drillbook.settings import Settings
from drillbook.util.atomic import write_text_atomic
from drillbook.util.durations import DurationError, format_duration, parse_duration
from drillbook.util.lazy import lazy_module
from drillbook.util.logformat import structured
from drillbook.util.signals import signals_raise_interrupted

export = lazy_module("drillbook.serve.export")  # prometheus_client: only runs that export pay it

if TYPE_CHECKING:
    from drillbook.cli import progress
    from drillbook.drill import engine
    from drillbook.drill.engine import DrillOutcome
    from drillbook.evidence import ledger
    from drillbook.report import junit
    from drillbook.sandbox import reaper
else:
    # validate and list never run a drill: the engine, the ledger (cryptography), the JUnit
    # writer, the progress display (rich's live status) and the reaper load when a run does
    engine = lazy_module("drillbook.drill.engine")
    progress = lazy_module("drillbook.cli.progress")
    reaper = lazy_module("drillbook.sandbox.reaper")
    ledger = lazy_module("drillbook.evidence.ledger")
    junit = lazy_module("drillbook.report.junit")

DEFAULT_WAIT_LOCK = "6h"  # a bare --wait-lock: as long as one restic call of a drill may take


RUN_ID_SHAPE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")


def _check_run_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The run id names folders (reports, sandbox): nothing that could climb out of them."""
    if value is not None and not RUN_ID_SHAPE.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not a run id (letters, digits, - and _)")
    return value


def _wait_seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float:
    """Every wait has a limit: a bare --wait-lock waits DEFAULT_WAIT_LOCK, never for ever."""
    if value is None:
        return 0.0
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from None


# `drillbook serve` names each run itself and passes the id to the child `drillbook run`, so its
# events and the run's folder agree without reading the child's log lines.
run_id_option = click.option("--run-id", default=None, hidden=True, callback=_check_run_id,
                             help="Use this run id (serve names the runs it starts).")


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")


@click.command("validate")
@click.argument("names", nargs=-1, shell_complete=complete_drills)
@json_option
@click.pass_obj
def validate_command(settings: Settings, names: tuple[str, ...], as_json: bool) -> None:
    """Check drill files (all, or NAMES) and runbooks; report every problem of every file at once."""
    try:
        loaded, runbooks = validate_with_runbooks(settings, list(names))
    except BadInput as exc:
        if not as_json or not exc.problems:
            raise
        jsonout.emit(jsonout.validation(0, None, exc.problems))
        sys.exit(exitcodes.BAD_INPUT)
    sightings.notice(settings.state_dir, loaded)
    count = len(names) if names else len(loaded.drills)
    if as_json:
        jsonout.emit(jsonout.validation(count, runbooks, []))
        return
    out.print(f"{count} drill(s) valid in {settings.drills_dir}", markup=False)
    if runbooks:
        out.print(f"{runbooks} runbook(s) valid in {settings.runbooks_dir}", markup=False)


@click.command("list")
@json_option
@click.pass_obj
def list_command(settings: Settings, as_json: bool) -> None:
    """List declared drills with their objectives and last run."""
    loaded = batch.load_checked(settings)
    last = _last_runs(settings.reports_dir)
    drills = sorted(loaded.drills.items())
    shown = {name: shown_repository(drill.source.repository, batch.declared(loaded, name).folder(loaded.folder))
             for name, drill in drills}
    if as_json:
        jsonout.emit([jsonout.drill_entry(name, drill, shown[name], last.get(name)) for name, drill in drills])
        return
    rows = []
    for name, drill in drills:
        run = last.get(name)
        last_text = f"{run['status']} {run.get('started_at', '')[:16]}" if run else "never"
        rows.append([name, drill.schedule or "on demand", drill.objectives.rto.text, drill.objectives.rpo.text,
                     str(len(drill.verify)), shown[name], last_text])
    print_table(("drill", "schedule", "RTO", "RPO", "checks", "repository", "last run"), rows)


def _last_runs(reports: Path) -> dict[str, dict[str, Any]]:
    """Each drill's newest run: the first of it that load_runs lists."""
    last: dict[str, dict[str, Any]] = {}
    for run in load_runs(reports):
        name = run.get("drill")
        if run.get("kind", "drill") == "drill" and isinstance(name, str):
            last.setdefault(name, run)
    return last


@click.command("run", epilog=exitcodes.epilog())
@click.argument("names", nargs=-1, shell_complete=complete_drills)
@click.option("--all", "run_all", is_flag=True, help="Run every declared drill, in name order.")
@click.option("--keep-sandbox", is_flag=True, help="Keep the restored sandbox for debugging.")
@click.option("--control", is_flag=True,
              help="Negative controls: after the checks pass, run each again on damaged copies of the "
                   "restore; a check that still passes fails the drill (as control: true in a drill).")
@click.option("--plain", is_flag=True, help="Plain progress lines even on a terminal.")
@click.option("--trigger", default="manual", hidden=True)
@click.option("--stop-after-rto", type=float, default=None, hidden=True,
              help="Stop and fail a drill running longer than this multiple of its RTO (serve).")
@run_id_option
@click.option("--wait-lock", "wait_lock", is_flag=False, flag_value=DEFAULT_WAIT_LOCK, default=None,
              metavar="[DURATION]", callback=_wait_seconds,
              help="When another run of a drill is under way, wait for it up to DURATION "
                   f"(default {DEFAULT_WAIT_LOCK}) instead of exiting 3 at once. Give it after the names.")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write one JUnit XML file for all drills of this invocation.")
@click.option("--metrics-textfile", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="After the runs, merge their metrics into this node_exporter textfile (*.prom): "
                   "one file for all drills, other drills' series kept.")
@click.option("--pushgateway", metavar="URL", default=None,
              help="After the runs, push each drill's metrics to this Prometheus Pushgateway "
                   "(grouping key job=drillbook, drill=NAME).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per run on stdout (JSON Lines), nothing else there.")
@click.pass_obj
def run_command(settings: Settings, names: tuple[str, ...], run_all: bool, keep_sandbox: bool, control: bool,
                plain: bool, trigger: str, stop_after_rto: float | None, run_id: str | None, wait_lock: float,
                junit_path: Path | None, metrics_textfile: Path | None, pushgateway: str | None,
                as_json: bool) -> None:
    """Run drills NAMES (or --all) now; exit 0 only when every one passed."""
    if bool(names) == run_all:
        raise click.UsageError("name the drills to run, or give --all (not both)")
    if run_id and len(names) != 1:
        raise click.UsageError("--run-id names one run: give exactly one drill")
    loaded = batch.load_checked(settings, names)
    sightings.notice(settings.state_dir, loaded)
    names = tuple(names) or tuple(sorted(loaded.drills))
    if not names:
        raise BadInput(f"--all: no drills are declared in {settings.drills_dir}")
    batch.ensure_can_run(settings, loaded.config)
    for stale in reaper.reap_stale_runs(settings, project=loaded.config):  # runs whose drillbook died: first
        tell(f"cleaned up stale run {stale.drill} {stale.run_id}: {stale.owner}", event="stale-run-reaped",
             drill=stale.drill, run_id=stale.run_id)
    options = engine.RunOptions(trigger=trigger, keep_sandbox=keep_sandbox, stop_after_rto=stop_after_rto,
                                run_id=run_id, wait_lock=wait_lock, control=control)
    shown = _emit_outcome if as_json else (lambda outcome: _print_outcome(settings, outcome))
    exporting = (export.exporting(settings, loaded.drills, names, metrics_textfile, pushgateway)
                 if metrics_textfile or pushgateway else nullcontext([]))  # prometheus_client: ~50 ms
    with signals_raise_interrupted(), exporting as exported:
        outcomes = batch.run_drills(loaded, names, settings, options,
                                    progress.Progress(force_plain=plain or structured()), on_outcome=shown)
        exported.extend(o.record for o in outcomes)
    records = [o.record for o in outcomes]
    if junit_path:
        write_text_atomic(junit_path, junit.combined_xml(records))
        if not as_json:
            out.print(f"junit: {junit_path}", markup=False)
    if not as_json:
        out.print(f"index: {settings.reports_dir / 'index.html'}", markup=False)
    sys.exit(exitcodes.for_statuses(r["status"] for r in records))


def _emit_outcome(outcome: DrillOutcome) -> None:
    jsonout.emit(jsonout.run_result(outcome), one_line=True)


def _print_outcome(settings: Settings, outcome: DrillOutcome) -> None:
    record: dict[str, Any] = outcome.record
    out.print(f"{record['drill']}: {record['status']} "
              f"(RTO {format_duration(record['objectives']['rto']['measured_seconds'])}) "
              f"report: {outcome.run_dir / 'report.html'}", markup=False)
    out.print(head_line(settings, record["run_id"]), markup=False)


def head_line(settings: Settings, run_id: str) -> str:
    """What `run` prints after each drill: where its evidence sits in the chain."""
    entry = ledger.entry_for(settings.reports_dir, run_id)
    if entry is None:
        return "evidence: NOT sealed into the ledger (see the log above); `drillbook evidence verify` will flag it"
    top = ledger.head(settings.reports_dir) or entry
    return f"evidence: ledger entry #{entry['seq']}, head #{top['seq']} {top['hash']}"
