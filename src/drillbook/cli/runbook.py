"""``drillbook runbook list|show|run|resume``: parse, call the runbook library, print, exit."""

from __future__ import annotations

import sys

import click

from drillbook.cli import exitcodes, jsonout
from drillbook.cli.completion import complete_runbooks
from drillbook.cli.console import wide
from drillbook.cli.progress import Progress
from drillbook.cli.tables import print_table
from drillbook.runbook import executor, loading
from drillbook.runbook import record as rec
from drillbook.runbook.confirm import choose
from drillbook.runbook.model import DRILL, MANUAL, SHELL, Runbook
from drillbook.runbook.progress import RunbookProgress
from drillbook.settings import Settings
from drillbook.spec.loader import DrillSet
from drillbook.status import Status
from drillbook.util.durations import format_duration
from drillbook.util.signals import signals_raise_interrupted


@click.group("runbook")
def runbook_group() -> None:
    """Executable runbooks: the recovery procedure people read, run step by step and recorded."""


@runbook_group.command("list")
@click.pass_obj
def list_runbooks(settings: Settings) -> None:
    """List runbooks with their steps by kind, RTO and last run."""
    runbooks = loading.load_all(settings)
    last = rec.last_runs(settings.reports_dir)
    rows = []
    for name, runbook in sorted(runbooks.runbooks.items()):
        counts = runbook.counts()
        steps = f"{len(runbook.steps)}: " + ", ".join(f"{counts[k]} {k}" for k in (MANUAL, SHELL, DRILL) if counts[k])
        run = last.get(name)
        last_text = f"{run.get('status')} {(run.get('started_at') or '')[:16]} {run.get('run_id')}" if run else "never"
        rows.append([name, runbook.title, runbook.meta.owner or "-", steps,
                     runbook.rto.text if runbook.rto else "-", last_text])
    print_table(("runbook", "title", "owner", "steps", "RTO", "last run"), rows, wide)


@runbook_group.command("show")
@click.argument("name", shell_complete=complete_runbooks)
@click.pass_obj
def show(settings: Settings, name: str) -> None:
    """Show the steps of runbook NAME as they will run."""
    runbook, _ = loading.load_one(settings, name)
    click.echo(describe(runbook))


def describe(runbook: Runbook) -> str:
    lines = [f"{runbook.title}  ({runbook.path})",
             f"owner: {runbook.meta.owner or '-'} · RTO: {runbook.rto.text if runbook.rto else 'none'} · "
             f"default shell step timeout: {runbook.meta.timeout.text}"]
    if runbook.meta.env:
        lines.append("env: " + ", ".join(sorted(runbook.meta.env)))
    if runbook.intro:
        lines += ["", runbook.intro]
    for step in runbook.steps:
        lines.append("")
        if step.kind == SHELL:
            how = f"shell, bash -euo pipefail, timeout {runbook.step_timeout(step).text}"
        elif step.kind == DRILL:
            how = "drill: " + ", ".join(step.drills)
        else:
            how = "manual, the operator confirms" + (" (optional: may be skipped with a reason)"
                                                    if step.optional else "")
        lines.append(f"{step.index}. {step.title}  [{how}]")
        lines += [f"   {text}" for text in step.text.splitlines()]
    return "\n".join(lines)


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the run as one JSON object on stdout (progress stays on stderr).")


@runbook_group.command("run", epilog=exitcodes.epilog())
@click.argument("name", shell_complete=complete_runbooks)
@click.option("--operator", help="Who runs this [DRILLBOOK_OPERATOR, else the login name].")
@click.option("--yes", is_flag=True, help="Confirm manual steps without asking (rehearsals, automation).")
@click.option("--from", "from_step", metavar="STEP", help="Start at this step (number or title).")
@json_option
@click.pass_obj
def run(settings: Settings, name: str, operator: str | None, yes: bool, from_step: str | None,
        as_json: bool) -> None:
    """Run runbook NAME step by step; exit 0 when every step run passed (within the RTO for a whole
    run; a run --from a later step is recorded partial, never as a rehearsal)."""
    runbook, drills = loading.load_one(settings, name)
    first = None
    if from_step:
        first = runbook.find_step(from_step)
        if first is None:
            raise click.BadParameter(f'no single step "{from_step}" in {runbook.path} '
                                     f"(use a number 1-{len(runbook.steps)} or an exact title)",
                                     param_hint="--from")
    ctx = _context(settings, operator, yes, drills)
    with signals_raise_interrupted():
        outcome = executor.start(runbook, ctx, first)
    _finish(outcome, as_json)


@runbook_group.command("resume")
@click.argument("run_id")
@click.option("--operator", help="Who runs this [DRILLBOOK_OPERATOR, else the login name].")
@click.option("--yes", is_flag=True, help="Confirm manual steps without asking.")
@json_option
@click.pass_obj
def resume(settings: Settings, run_id: str, operator: str | None, yes: bool, as_json: bool) -> None:
    """Continue run RUN_ID from its failed or aborted step; steps already done are kept."""
    folder = rec.find_run(settings.reports_dir, run_id)
    record = rec.load(folder) if folder else None
    name = record.runbook if record else ""
    runbooks = {}
    drills = None
    if record is not None:
        runbook, drills = loading.load_one(settings, name)
        runbooks[name] = runbook
    ctx = _context(settings, operator, yes, drills)
    with signals_raise_interrupted():
        outcome = executor.resume(run_id, runbooks, ctx)
    _finish(outcome, as_json)


def _context(settings: Settings, operator: str | None, yes: bool, drills: DrillSet | None) -> executor.Context:
    progress = RunbookProgress()
    return executor.Context(settings=settings, operator=loading.operator_name(operator),
                            confirmer=choose(yes), drills=drills,
                            observe=progress, on_output=progress.output,
                            drill_observer=Progress())


def _finish(outcome: executor.Outcome, as_json: bool) -> None:
    record = outcome.record
    code = exitcodes.for_statuses([record["status"]])
    if as_json:
        jsonout.emit(jsonout.runbook_result(record, outcome.run_dir), one_line=True)
        sys.exit(code)
    rto = (record.get("objectives") or {}).get("rto") or {}
    rto_text = f"RTO {format_duration(rto.get('measured_seconds'))} of {rto['target']}" if rto else "no RTO"
    if record["status"] == Status.PARTIAL:
        rto_text = "RTO not measured: " + str(record.get("reason"))
    wide.print(f"{record['runbook']}: {record['status']} ({rto_text}) run {record['run_id']} "
               f"report: {outcome.run_dir / 'report.html'}", markup=False)
    sys.exit(code)
