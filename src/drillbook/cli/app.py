"""The command-line surface only: parse, call the library, print, exit with the right code.

Exit codes: 0 passed, 1 a drill failed, 2 bad input, 3 drillbook could not run.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from drillbook import __version__
from drillbook.cli import evidence as evidence_cli
from drillbook.cli.cleanup import cleanup_command
from drillbook.cli.progress import Progress
from drillbook.cli.runbook import runbook_group
from drillbook.cli.schema import schema_command
from drillbook.cli.serve import run_id_option, schedule_command, serve_command
from drillbook.drill import batch as drill_actions
from drillbook.drill.engine import run_drill
from drillbook.drill.overrun import OverrunGuard
from drillbook.errors import BadInput, DrillbookError
from drillbook.outputs.runstore import load_runs
from drillbook.sandbox.reaper import reap_stale_runs
from drillbook.settings import Settings
from drillbook.status import Status
from drillbook.util.durations import format_duration
from drillbook.util.signals import signals_raise_interrupted

EXIT_PASSED, EXIT_FAILED = 0, 1  # 2 and 3 come from the errors (BadInput, CannotRun)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(exc: DrillbookError) -> NoReturn:
    if isinstance(exc, BadInput) and exc.problems:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        err.print(f"{len(exc.problems)} problem(s); nothing was run.", markup=False)
    else:
        err.print(f"drillbook: {exc}", markup=False)
    sys.exit(exc.exit_code)


class DrillbookGroup(click.Group):
    """Maps library errors to exit codes in one place; usage errors exit 2 (click's default)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DrillbookError as exc:
            fail(exc)


@click.group(cls=DrillbookGroup)
@click.version_option(__version__, prog_name="drillbook")
@click.option("--drills", type=click.Path(path_type=Path), help="Drills folder [DRILLBOOK_DRILLS, ./drills].")
@click.option("--reports", type=click.Path(path_type=Path), help="Reports folder [DRILLBOOK_REPORTS, ./reports].")
@click.option("--sandbox-root", type=click.Path(path_type=Path), help="Where sandboxes are made [DRILLBOOK_SANDBOX_ROOT].")
@click.option("--state", type=click.Path(path_type=Path), help="State folder [DRILLBOOK_STATE].")
@click.option("--runbooks", type=click.Path(path_type=Path), help="Runbooks folder [DRILLBOOK_RUNBOOKS, ./runbooks].")
@click.option("-v", "--verbose", is_flag=True, help="Log restic commands (secrets masked).")
@click.pass_context
def cli(ctx: click.Context, drills: Path | None, reports: Path | None, sandbox_root: Path | None,
        state: Path | None, runbooks: Path | None, verbose: bool) -> None:
    """drillbook: prove that backups can be recovered, on a schedule and on demand."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = Settings.from_env(drills_dir=drills, reports_dir=reports, sandbox_root=sandbox_root,
                                state_dir=state, runbooks_dir=runbooks)


@cli.command()
@click.argument("names", nargs=-1)
@click.pass_obj
def validate(settings: Settings, names: tuple[str, ...]) -> None:
    """Check drill files (all, or NAMES) and runbooks; report every problem of every file at once."""
    from drillbook.runbook.loading import validate_with_runbooks

    loaded, runbooks = validate_with_runbooks(settings, list(names))
    count = len(names) if names else len(loaded.drills)
    out.print(f"{count} drill(s) valid in {settings.drills_dir}", markup=False)
    if runbooks:
        out.print(f"{runbooks} runbook(s) valid in {settings.runbooks_dir}", markup=False)


@cli.command("list")
@click.pass_obj
def list_drills(settings: Settings) -> None:
    """List declared drills with their objectives and last run."""
    loaded = drill_actions.load_checked(settings)
    last = {}
    for run in load_runs(settings.reports_dir):
        if run.get("kind", "drill") == "drill":
            last.setdefault(run.get("drill"), run)
    table = Table(show_lines=False)
    for column in ("drill", "schedule", "RTO", "RPO", "checks", "repository", "last run"):
        table.add_column(column)
    for name, drill in sorted(loaded.drills.items()):
        run = last.get(name)
        last_text = f"{run['status']} {run.get('started_at', '')[:16]}" if run else "never"
        table.add_row(name, drill.schedule or "on demand", drill.objectives.rto.text,
                      drill.objectives.rpo.text, str(len(drill.verify)),
                      drill.source.repository, last_text)
    out.print(table)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Run every declared drill, in name order.")
@click.option("--keep-sandbox", is_flag=True, help="Keep the restored sandbox for debugging.")
@click.option("--plain", is_flag=True, help="Plain progress lines even on a terminal.")
@click.option("--trigger", default="manual", hidden=True)
@click.option("--stop-after-rto", type=float, default=None, hidden=True,
              help="Stop and fail a drill running longer than this multiple of its RTO (serve).")
@run_id_option
@click.option("--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write one JUnit XML file for all drills of this invocation.")
@click.pass_obj
def run(settings: Settings, names: tuple[str, ...], run_all: bool, keep_sandbox: bool, plain: bool,
        trigger: str, stop_after_rto: float | None, run_id: str | None, junit_path: Path | None) -> None:
    """Run drills NAMES (or --all) now; exit 0 only when every one passed."""
    if bool(names) == run_all:
        raise click.UsageError("name the drills to run, or give --all (not both)")
    if run_id and len(names) != 1:
        raise click.UsageError("--run-id names one run: give exactly one drill")
    loaded = drill_actions.load_checked(settings, list(names))
    names = tuple(names) or tuple(sorted(loaded.drills))
    if not names:
        raise BadInput(f"--all: no drills are declared in {settings.drills_dir}")
    drill_actions.ensure_can_run(settings)
    for stale in reap_stale_runs(settings):  # runs whose drillbook died: clean up first (issue 5)
        err.print(f"cleaned up stale run {stale.drill} {stale.run_id}: {stale.owner}", markup=False)
    settings.keep_sandbox = keep_sandbox
    settings.trigger = trigger
    progress = Progress(force_plain=plain)
    statuses, records = [], []
    with signals_raise_interrupted():
        for drill in drill_actions.select(loaded, list(names)):
            with OverrunGuard(drill, stop_after_rto, progress) as observer:
                outcome = run_drill(drill, settings, observer, drill_actions.drill_file(loaded, drill.name),
                                    run_id=run_id)
            statuses.append(outcome.record["status"])
            records.append(outcome.record)
            out.print(f"{drill.name}: {outcome.record['status']} "
                      f"(RTO {format_duration(outcome.record['objectives']['rto']['measured_seconds'])}) "
                      f"report: {outcome.run_dir / 'report.html'}", markup=False)
            out.print(evidence_cli.head_line(settings, outcome.record["run_id"]), markup=False)
            if outcome.record["status"] == Status.ABORTED:
                break
    if junit_path:
        evidence_cli.write_junit(junit_path, records)
        out.print(f"junit: {junit_path}", markup=False)
    out.print(f"index: {settings.reports_dir / 'index.html'}", markup=False)
    sys.exit(EXIT_PASSED if statuses and all(s == Status.PASSED for s in statuses) else EXIT_FAILED)


# -- the commands of the other modules: one table, not an if/elif chain --
for command in (serve_command, schedule_command, runbook_group, evidence_cli.evidence_group,
                evidence_cli.report_cmd, cleanup_command, schema_command):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="drillbook")


if __name__ == "__main__":
    main()
