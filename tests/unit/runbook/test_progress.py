"""What the operator sees of a runbook: shell output and step text never carry escape codes."""

from __future__ import annotations

import io

from drillbook.runbook.progress import RunbookProgress


def test_shell_output_reaches_the_terminal_without_escape_sequences() -> None:
    stream = io.StringIO()
    progress = RunbookProgress(stream)
    progress.output("\x1b[2J\x1b]0;owned\x07restored \x1b[31mred\x1b[0m\r ok [bold]")
    assert stream.getvalue() == "    | restored red ok [bold]\n"
