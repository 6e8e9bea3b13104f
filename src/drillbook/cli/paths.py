"""``drillbook paths``: each folder in use, the rule that chose it, and whether it exists and is writable.

The first thing to run after installing the service, or when a drill cannot find its files: the
rules (flags, ``DRILLBOOK_*`` variables, systemd's directories, checkout or service install) are
in :mod:`drillbook.locations`, and this prints what they decided for this process.
"""

from __future__ import annotations

import json

import click
from rich.table import Table

from drillbook.cli.console import terminal_safe, wide
from drillbook.settings import FolderInUse, Settings, folders_in_use


@click.command("paths")
@click.option("--json", "as_json", is_flag=True, help="A JSON list: name, path, reason, exists, writable, note.")
@click.pass_obj
def paths_command(settings: Settings, as_json: bool) -> None:
    """Show each folder drillbook uses, why, and whether it exists and is writable."""
    rows = folders_in_use(settings)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    wide.print(_table(rows))


def _table(rows: list[FolderInUse]) -> Table:
    table = Table()
    for column in ("folder", "path", "chosen by", "exists", "writable"):
        table.add_column(column)
    for row in rows:
        reason = row.reason + (f" ({row.note})" if row.note else "")
        table.add_row(row.name, terminal_safe(row.path), terminal_safe(reason),
                      "yes" if row.exists else "no", "yes" if row.writable else "no")
    return table
