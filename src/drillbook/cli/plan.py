"""``drillbook plan NAME...``: what a run of each drill would restore and check, without running it.

Exit 0 when no drill's plan found a problem, 1 when one did (password, repository, snapshot, a
check's path); 2 (bad input: an unknown drill, a broken drill file) comes through the group.
Writes nothing: no run folder, no ledger entry, no sandbox (see drill/plan.py).
"""

from __future__ import annotations

import sys

import click

from drillbook.cli import exitcodes, jsonout
from drillbook.cli.completion import complete_drills
from drillbook.cli.console import out, terminal_safe
from drillbook.drill import batch
from drillbook.drill.plan import plan_drill
from drillbook.settings import Settings


@click.command("plan")
@click.argument("names", nargs=-1, required=True, shell_complete=complete_drills)
@click.option("--json", "as_json", is_flag=True, help="Print the plans as JSON: {ok, drills: [...]}.")
@click.pass_obj
def plan_command(settings: Settings, names: tuple[str, ...], as_json: bool) -> None:
    """Show what running drills NAMES would restore and check, without restoring or recording anything.

    Reads the password and the repository as a run does, shows the snapshot it would choose and
    where it lands under the restore root, and whether each check's path is in it. Exit 0 when
    nothing is wrong, 1 on any problem, 2 on bad input.
    """
    loaded = batch.load_checked(settings, names)
    plans = [plan_drill(batch.declared(loaded, name), settings) for name in dict.fromkeys(names)]
    ready = all(p.ok for p in plans)
    if as_json:
        jsonout.emit({"ok": ready, "drills": [p.to_dict() for p in plans]})
    else:
        for plan in plans:
            for line in plan.text_lines():
                out.print(terminal_safe(line), markup=False)
    sys.exit(exitcodes.PASSED if ready else exitcodes.FAILED)
