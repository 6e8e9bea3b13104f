"""Shell completion: ``drillbook completion bash|zsh|fish`` and the names it offers.

Completion runs on every Tab press, so names are read cheaply: the file names in the drills and
runbooks folders (a drill's top-level ``name:`` line when it has one), never a YAML parse. The
folders are the ones the command line being completed names (``--config``, ``--drills``,
``--runbooks``), else the environment, else the defaults, as
:class:`~drillbook.settings.Settings` finds them.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

from drillbook.settings import Settings
from drillbook.spec.loader import PROJECT_CONFIG

SHELLS = ("bash", "zsh", "fish")
PROG = "drillbook"
COMPLETE_VAR = "_DRILLBOOK_COMPLETE"
_NAME_LINE = re.compile(r"^name:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


def _settings(ctx: click.Context) -> Settings:
    """The folders of the command line being completed (its group's options are parsed, not run)."""
    root = ctx.find_root().params
    return Settings.from_env(config=root.get("config"), drills_dir=root.get("drills"),
                             runbooks_dir=root.get("runbooks"))


def drill_names(folder: Path) -> list[str]:
    """The drills declared in ``folder``: each file's ``name:``, else its stem."""
    names = set()
    for path in [*folder.glob("*.yaml"), *folder.glob("*.yml")]:
        if path.name == PROJECT_CONFIG:
            continue
        try:
            found = _NAME_LINE.search(path.read_text(errors="replace"))
        except OSError:
            continue
        names.add(found.group(1) if found else path.stem)
    return sorted(names)


def runbook_names(folder: Path) -> list[str]:
    return sorted(path.stem for path in folder.glob("*.md"))


def complete_drills(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    chosen = set(ctx.params.get(param.name or "") or ())
    return [CompletionItem(name) for name in drill_names(_settings(ctx).drills_dir)
            if name.startswith(incomplete) and name not in chosen]


def complete_runbooks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name) for name in runbook_names(_settings(ctx).runbooks_dir)
            if name.startswith(incomplete)]


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL; drill and runbook names complete from their folders.

    \b
    bash:  eval "$(drillbook completion bash)"        (in ~/.bashrc)
    zsh:   eval "$(drillbook completion zsh)"         (in ~/.zshrc)
    fish:  drillbook completion fish > ~/.config/fish/completions/drillbook.fish
    """
    completer = get_completion_class(shell)
    if completer is None:  # click ships all three SHELLS; another click might not
        raise click.UsageError(f"this click has no completion for {shell}")
    click.echo(completer(ctx.find_root().command, {}, PROG, COMPLETE_VAR).source())
