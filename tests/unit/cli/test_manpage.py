"""drillbook(1) is written from the command tree: it names every command and option, and the copy
in docs/ is the one ``make docs`` writes today."""

from __future__ import annotations

import re
from pathlib import Path

import click

from drillbook.cli.app import cli
from drillbook.cli.manpage import commands, escape, render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "drillbook.1"


def _visible_options(command: click.Command, ctx: click.Context) -> list[str]:
    return [opt for p in command.get_params(ctx) if isinstance(p, click.Option) and not p.hidden
            for opt in p.opts if opt != "--help"]


def test_the_page_names_every_command_and_every_option() -> None:
    page = render(cli)
    root = click.Context(cli, info_name="drillbook")
    for option in _visible_options(cli, root):
        assert f"\\fB{escape(option)}" in page or f", {escape(option)}" in page, option
    seen = 0
    for ctx, command in commands(cli, root):
        seen += 1
        section = page.split(f'.SS "{escape(ctx.command_path)} ', 1)[1].split(".SS ", 1)[0]
        for option in _visible_options(command, ctx):
            assert re.search(rf"\\fB(?:\S+, )?{re.escape(escape(option))}\b", section), (ctx.command_path, option)
    assert seen >= 17 and '.SS "drillbook runbook run' in page and '.SS "drillbook completion' in page
    for code in ("130", "143"):
        assert f"\\fB{code}\\fR" in page


def test_hidden_options_stay_out_of_the_page() -> None:
    assert "\\-\\-run\\-id" not in render(cli) and "\\-\\-trigger" not in render(cli)


def test_a_line_roff_would_read_as_a_request_is_escaped() -> None:
    assert escape(".not a request\n'nor this\n-x \\y") == "\\&.not a request\n\\&'nor this\n\\-x \\ey"


def test_the_page_in_docs_is_current() -> None:
    assert DOCS.read_text() == render(cli), "run `make docs` and commit docs/drillbook.1"
