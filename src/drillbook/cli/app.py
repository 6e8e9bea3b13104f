"""The ``drillbook`` command group: global options, the table of commands, one exit-code mapping.

Each command family lives in its own module (drills, runbook, evidence, serve, cleanup, schema);
this module only assembles them. Exit codes (cli/exitcodes.py): 0 passed, 1 a drill failed,
2 bad input, 3 drillbook could not run, 130/143 a run stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from drillbook import __version__
from drillbook.cli import exitcodes
from drillbook.cli.commands import COMMANDS
from drillbook.cli.logsetup import log_format_option, log_level_option, log_setup
from drillbook.cli.streams import survive_closed_readers
from drillbook.errors import DrillbookError
from drillbook.util import logformat
from drillbook.util.lazy import lazy_module
from drillbook.util.signals import Interrupted, claim_sigint

#: rich is loaded only when an error is printed
console = lazy_module("drillbook.cli.console")

if TYPE_CHECKING:
    from drillbook import settings
else:
    settings = lazy_module("drillbook.settings")  # tempfile, shutil, pwd/grp: not for --help

FOLDER = click.Path(path_type=Path)


class DrillbookGroup(click.Group):
    """Maps library errors and stop signals to exit codes in one place; usage errors exit 2
    (click's default). A stop signal that ends a command outside a run exits as a stopped run does.

    Commands come from the table in cli/commands.py and are imported only when asked for.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[cmd_name][0].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{COMMANDS[cmd_name][0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table's help lines: no command's module is loaded."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit))
                for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DrillbookError as exc:
            console.fail(exc)
        except (Interrupted, KeyboardInterrupt):
            sys.exit(exitcodes.for_interrupt())


@click.group(cls=DrillbookGroup, epilog=exitcodes.epilog())
@click.version_option(__version__, prog_name="drillbook")
@click.option("--config", type=FOLDER, help="Folder holding drills/ and runbooks/ [DRILLBOOK_CONFIG, "
              "$CONFIGURATION_DIRECTORY, ., /etc/drillbook]; see `drillbook paths`.")
@click.option("--drills", type=FOLDER, help="Drills folder [DRILLBOOK_DRILLS, CONFIG/drills].")
@click.option("--reports", type=FOLDER, help="Reports folder [DRILLBOOK_REPORTS, ./reports].")
@click.option("--sandbox-root", type=FOLDER, help="Where sandboxes are made [DRILLBOOK_SANDBOX_ROOT].")
@click.option("--state", type=FOLDER, help="State folder [DRILLBOOK_STATE].")
@click.option("--runbooks", type=FOLDER, help="Runbooks folder [DRILLBOOK_RUNBOOKS, CONFIG/runbooks].")
@click.option("--cache", type=FOLDER, help="restic's cache [DRILLBOOK_CACHE, $CACHE_DIRECTORY].")
@log_format_option
@log_level_option
@click.option("-v", "--verbose", is_flag=True, help="Log restic commands (secrets masked): --log-level debug.")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, drills: Path | None, reports: Path | None,
        sandbox_root: Path | None, state: Path | None, runbooks: Path | None, cache: Path | None,
        log_format: str | None, log_level: str | None, verbose: bool) -> None:
    """drillbook: prove that backups can be recovered, on a schedule and on demand."""
    logformat.configure(log_setup(ctx.invoked_subcommand, log_format, log_level, verbose))
    ctx.obj = settings.Settings.from_env(config=config, drills_dir=drills, reports_dir=reports,
                                         sandbox_root=sandbox_root, state_dir=state, runbooks_dir=runbooks,
                                         cache_dir=cache)


def main() -> None:
    survive_closed_readers()  # `drillbook run ... | head -1` must not end a run (cli/streams.py)
    claim_sigint()  # an inherited SIG_IGN must not make drillbook deaf to SIGINT (util/signals.py)
    cli(prog_name="drillbook")


if __name__ == "__main__":
    main()
