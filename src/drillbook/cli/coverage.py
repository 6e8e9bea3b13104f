"""``drillbook coverage``: the backups in the drills' repositories that no drill ever restores.

A thin shell over drill/coverage.py. Exit 0; with ``--strict``, 1 when a snapshot group goes
undrilled or a repository cannot be read; 2 on bad input.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from drillbook.cli import exitcodes, jsonout
from drillbook.cli.console import out, terminal_safe
from drillbook.drill import batch, coverage
from drillbook.errors import BadInput
from drillbook.report.render import format_bytes
from drillbook.settings import Settings
from drillbook.util.clock import utc_now
from drillbook.util.durations import DurationError, parse_duration


@click.command("coverage")
@click.option("--since", default="30d", show_default=True,
              help="Only snapshots taken within this long before now (30d, 12w, 1y).")
@click.option("--strict", is_flag=True, help="Exit 1 when a snapshot group is drilled by no drill, or a "
              "repository cannot be read.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"repositories": [...], "uncovered": [{"repository", "host", "paths", "tags", "latest"}]}.')
@click.pass_obj
def coverage_command(settings: Settings, since: str, strict: bool, as_json: bool) -> None:
    """List the snapshot groups (host, paths, tags) of the drills' repositories that no drill selects."""
    try:
        window = parse_duration(since)
    except DurationError as exc:
        raise BadInput(f"--since: {exc}") from None
    loaded = batch.load_checked(settings)
    targets = {name: batch.declared(loaded, name) for name in loaded.drills}
    found = coverage.measure(targets, settings, utc_now() - timedelta(seconds=window))
    if as_json:
        jsonout.emit(found.record())
    else:
        for line in _lines(found, since):
            out.print(terminal_safe(line), markup=False)
    sys.exit(exitcodes.FAILED if strict and not found.complete else exitcodes.PASSED)


def _lines(found: coverage.Coverage, since: str) -> list[str]:
    lines = []
    for repo in found.repositories:
        state = f"cannot be read: {repo.error}" if repo.error else f"{repo.groups} group(s) in the last {since}"
        lines.append(f"{repo.repository} ({', '.join(repo.drills)}): {state}")
    for group in (g.record() for g in found.uncovered):
        lines.append(f"never drilled: {group['repository']} host {group['host'] or '-'} paths "
                     f"{', '.join(group['paths']) or '-'} tags {', '.join(group['tags']) or '-'}; newest "
                     f"{group['latest']} ({format_bytes(group['size_bytes'])}, {group['snapshots']} snapshot(s))")
    if not found.uncovered and not any(r.error for r in found.repositories):
        lines.append(f"every snapshot group of the last {since} is selected by a drill")
    return lines
