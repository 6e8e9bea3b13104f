"""The server's event lines: one parseable ``key=value`` line per event, nothing a terminal obeys."""

from __future__ import annotations

import io
import json
import shlex

from drillbook.serve.events import EventLog

CONTROLS = ("\x1b", "\x07", "\x00", "\x9b", "\u202e", "\r")


def _line(**fields: object) -> str:
    stream = io.StringIO()
    EventLog(stream)("drill-finish", level="warning", **fields)
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    return text


def test_names_from_drill_files_or_restored_data_lose_what_a_terminal_would_obey():
    line = _line(drill="clinic\x1b]0;pwned\x07\x1b[2J", reason="exit 1: \u202etxt.exe\rpassed\x00",
                 sandbox="/srv/sandboxes/run\x9b31m")
    assert not [c for c in CONTROLS if c in line]
    fields = dict(part.split("=", 1) for part in shlex.split(line)[1:])
    assert fields["drill"] == "clinic"
    assert fields["reason"] == "exit 1: txt.exepassed"
    assert fields["sandbox"] == "/srv/sandboxes/run31m"


def test_a_multi_line_problem_stays_one_quoted_line():
    line = _line(problem="drills/x.yaml line 3:\n\tunknown key\x1b[1m")
    value = line.split("problem=", 1)[1].rstrip("\n")
    assert json.loads(value) == "drills/x.yaml line 3:\n\tunknown key"
