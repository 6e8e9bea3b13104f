"""``drillbook(1)``: the manual page, written from the command tree itself (``make docs``).

Walking click's commands keeps the page and ``--help`` one text: every command, argument and
option (hidden ones aside) with its help, the folders' environment variables, and the exit codes.
The output has no date in it, so the page in docs/ changes only when the CLI does.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import click

from drillbook import __version__
from drillbook.cli import exitcodes
from drillbook.cli.app import cli
from drillbook.settings import ENV_VARS


def escape(text: str) -> str:
    """Text as roff prints it: backslashes and hyphens literal, no line read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(f"\\&{line}" if line.startswith((".", "'")) else line for line in text.splitlines())


def paragraphs(help_text: str | None) -> list[str]:
    """Help as roff paragraphs; click's ``\\b`` blocks stay as written (no fill)."""
    text = inspect.cleandoc(help_text or "").split("\f")[0]
    out = []
    for block in text.split("\n\n"):
        if block.startswith("\b\n"):
            out.append(f".nf\n{escape(block[2:])}\n.fi")
        elif block.strip():
            out.append(escape(" ".join(block.split())))
    return out


def commands(group: click.Group, ctx: click.Context) -> Iterator[tuple[click.Context, click.Command]]:
    """Every command under ``group``, depth first, in name order, each with its own context."""
    for name in group.list_commands(ctx):  # the lazy top-level group loads each here
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=ctx)
        yield sub, command
        if isinstance(command, click.Group):
            yield from commands(command, sub)


def options(command: click.Command, ctx: click.Context, *, with_help: bool = False) -> list[str]:
    """Each option with its help; arguments are in the usage line, ``--help`` once at the top."""
    lines = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record and (with_help or "--help" not in param.opts):
            lines += [".TP", f"\\fB{escape(record[0])}\\fR", escape(" ".join(record[1].split())) or "\\&"]
    return lines


def render(cli: click.Group) -> str:
    root = click.Context(cli, info_name="drillbook")
    summary = inspect.cleandoc(cli.help or "").splitlines()[0].partition(": ")[2]
    lines = [f'.TH DRILLBOOK 1 "" "drillbook {__version__}" "User Commands"', ".SH NAME",
             f"drillbook \\- {escape(summary)}",
             ".SH SYNOPSIS", f"\\fBdrillbook\\fR {escape(' '.join(cli.collect_usage_pieces(root)))}",
             ".SH DESCRIPTION", escape(summary[:1].upper() + summary[1:]), ".PP",
             escape("Each command below is also described by drillbook COMMAND --help."),
             ".SH OPTIONS", *options(cli, root, with_help=True), ".SH COMMANDS"]
    for ctx, command in commands(cli, root):
        lines += [f'.SS "{escape(ctx.command_path)} {escape(" ".join(command.collect_usage_pieces(ctx)))}"']
        for block in paragraphs(command.help):
            lines += [block, ".PP"]
        lines += options(command, ctx)
    lines += [".SH ENVIRONMENT"]
    for var in [*ENV_VARS.values(), *_option_envvars(cli, root)]:
        lines += [".TP", f"\\fB{escape(var)}\\fR", _envvar_help(cli, root, var)]
    lines += [".SH EXIT STATUS"]
    for code, meaning in exitcodes.MEANINGS:
        lines += [".TP", f"\\fB{code}\\fR", escape(meaning)]
    lines += [".SH SEE ALSO", "docs/drill\\-spec.md, \\fBdrillbook schema\\fR, \\fBdrillbook completion\\fR"]
    return "\n".join(lines) + "\n"


def _option_envvars(cli: click.Group, ctx: click.Context) -> list[str]:
    return [p.envvar for p in cli.get_params(ctx) if isinstance(p, click.Option) and isinstance(p.envvar, str)]


def _envvar_help(cli: click.Group, ctx: click.Context, var: str) -> str:
    """What a variable sets: the option that reads it, or the folder it names."""
    for param in cli.get_params(ctx):
        if isinstance(param, click.Option) and param.envvar == var:
            return f"Sets {escape(param.opts[0])}."
    folder = next(attr for attr, name in ENV_VARS.items() if name == var)
    return f"The {escape(folder.replace('_dir', '').replace('_', ' '))} folder, unless given as an option."


def main() -> None:
    """Print the page: ``python -m drillbook.cli.manpage > docs/drillbook.1``."""
    click.echo(render(cli), nl=False)


if __name__ == "__main__":
    main()
