"""Every log line: a UTC timestamp and a level, fields quoted so a logfmt or JSON reader gets them back."""

from __future__ import annotations

import io
import json
import logging
import shlex
import sys
from datetime import datetime

import pytest

from drillbook.util import logformat
from drillbook.util.logformat import JSON, LOGFMT, TEXT, LogFormatter, LogSetup, parse_line

AWKWARD = 'two words, a "quote", a=sign,\na newline\tand a tab \x1b[2J\u202e'


def record(msg: str = "restore done", level: int = logging.WARNING, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("drillbook.x", level, __file__, 1, msg, (), None)
    made.__dict__.update(fields)
    made.created = datetime.fromisoformat("2026-03-01T10:20:30.456+00:00").timestamp()
    return made


def test_text_has_an_rfc3339_utc_time_the_level_and_the_fields() -> None:
    line = LogFormatter().format(record(drill="clinic", took=1.5))
    assert line == "2026-03-01T10:20:30.456Z WARNING drillbook.x: restore done drill=clinic took=1.500"


def test_logfmt_quotes_spaces_quotes_equals_and_newlines_and_stays_one_line() -> None:
    line = LogFormatter(form=LOGFMT).format(record(AWKWARD, reason=AWKWARD, drill="clinic"))
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    fields = dict(part.split("=", 1) for part in shlex.split(line))
    assert fields["ts"] == "2026-03-01T10:20:30.456Z" and fields["level"] == "warning"
    assert fields["logger"] == "drillbook.x" and fields["drill"] == "clinic"
    parsed = parse_line(line, LOGFMT)
    assert parsed is not None
    expected = 'two words, a "quote", a=sign,\na newline\tand a tab '
    assert parsed.msg == expected and parsed.fields["reason"] == expected


def test_logfmt_leaves_plain_words_bare_and_quotes_empty_text() -> None:
    line = LogFormatter(form=LOGFMT).format(record("ok", drill="clinic", note=""))
    assert line.endswith('msg=ok drill=clinic note=""')


def test_json_is_one_object_per_line_with_the_fields_as_members() -> None:
    line = LogFormatter(form=JSON).format(record(AWKWARD, drill="clinic", seconds=2.5, passed=True))
    assert "\n" not in line
    data = json.loads(line)
    assert data == {"ts": "2026-03-01T10:20:30.456Z", "level": "warning", "logger": "drillbook.x",
                    "msg": 'two words, a "quote", a=sign,\na newline\tand a tab ', "drill": "clinic",
                    "seconds": 2.5, "passed": True}


@pytest.mark.parametrize("form", [LOGFMT, JSON])
def test_a_traceback_stays_in_the_one_line(form: str) -> None:
    try:
        raise ValueError("bad\nworse")
    except ValueError:
        made = record("failed")
        made.exc_info = sys.exc_info()
    line = LogFormatter(form=form).format(made)
    assert "\n" not in line
    parsed = parse_line(line, form)
    assert parsed is not None and "ValueError: bad\nworse" in parsed.fields["exc"]


def test_an_event_names_itself_once() -> None:
    data = json.loads(LogFormatter(form=JSON).format(record("drill-finish", event="drill-finish", status="passed")))
    assert "msg" not in data and data["event"] == "drill-finish"


@pytest.mark.parametrize("form", [TEXT, LOGFMT, JSON])
def test_a_line_reads_back_as_the_record_it_was(form: str) -> None:
    line = LogFormatter(form=form).format(record("cannot remove /x y", drill="clinic"))
    parsed = parse_line(line, form)
    assert parsed is not None
    assert (parsed.ts, parsed.level, parsed.logger) == ("2026-03-01T10:20:30.456Z", "warning", "drillbook.x")
    assert parsed.msg.startswith("cannot remove /x y")


@pytest.mark.parametrize("form", [TEXT, LOGFMT, JSON])
def test_other_lines_are_not_records(form: str) -> None:
    assert parse_line("Traceback (most recent call last):", form) is None
    assert parse_line("drill=clinic phase=restore", form) is None


def test_a_forwarded_record_keeps_its_time_level_and_fields_and_gains_the_childs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(logformat, "_ACTIVE", logformat._Active())
    level = logging.getLogger().level
    logformat.configure(LogSetup(form=JSON, level="info"), stream)
    try:
        child = LogFormatter(form=JSON).format(record("restic failed", phase="restore"))
        parsed = parse_line(child, JSON)
        assert parsed is not None
        logformat.forward(parsed, drill="clinic", run_id="r1")
    finally:
        logging.basicConfig(handlers=[logging.NullHandler()], level=level, force=True)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {"ts": "2026-03-01T10:20:30.456Z", "level": "warning", "logger": "drillbook.x",
                                    "msg": "restic failed", "phase": "restore", "drill": "clinic", "run_id": "r1"}


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of text, logfmt, json"):
        LogFormatter(form="xml")
