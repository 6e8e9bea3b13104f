"""The one log line format of every drillbook process: text, logfmt or JSON, one record a line.

Log collectors (journald, Loki, a grep, ``jq``) read drillbook's stderr, so every logger writes
through :class:`LogFormatter`: an RFC 3339 UTC timestamp and a level on every line, the logger's
name, the message, and the record's own fields (``extra=``) as ``key=value`` or JSON members.
``logfmt`` and ``json`` keep a record on one line (a traceback too); ``text`` is for people and
keeps a traceback's lines.

Names, paths and reasons in a log line may come from a drill file or a restore: what a terminal
or a log viewer would obey is taken out first (:func:`~drillbook.util.plain.strip_controls`).

:func:`parse_line` reads a line back into its parts, so ``drillbook serve`` can pass on what a
child ``drillbook run`` logged as the same record (:func:`forward`), never a line inside a line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from drillbook.util.clock import iso, parse_iso
from drillbook.util.plain import strip_controls

TEXT, LOGFMT, JSON = "text", "logfmt", "json"
FORMATS = (TEXT, LOGFMT, JSON)
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
TEXT_LAYOUT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ENV_FORMAT, ENV_LEVEL = "DRILLBOOK_LOG_FORMAT", "DRILLBOOK_LOG_LEVEL"
#: Attributes every LogRecord has; anything else on a record is one of its fields.
STANDARD = {*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime", "taskName"}
_QUOTE_IF = re.compile(r'[\s"=\\]')
_PAIR = re.compile(r'\s*([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_TEXT_LINE = re.compile(r"(\d{4}-\d\d-\d\dT\S+Z) ([A-Z]+) ([^\s:]+): (.*)", re.DOTALL)


def level_name(record: logging.LogRecord) -> str:
    return record.levelname.lower()


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The record's own fields, in the order given; None means "not known" and is left out."""
    return {k: v for k, v in record.__dict__.items()
            if k not in STANDARD and not k.startswith("_") and v is not None}


def logfmt_value(value: Any) -> str:
    """Floats to milliseconds; text with a space, a quote, ``=``, a backslash or a line break (or
    nothing) is quoted as a JSON string, which logfmt readers and ``shlex`` both take apart."""
    if isinstance(value, float):
        value = f"{value:.3f}"
    elif isinstance(value, bool):
        value = "true" if value else "false"
    text = strip_controls(str(value))
    return json.dumps(text) if not text or _QUOTE_IF.search(text) else text


def _clean(value: Any) -> Any:
    """A JSON member's value: numbers and booleans kept, anything else as filtered text."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return strip_controls(str(value))


class LogFormatter(logging.Formatter):
    """Every log line: ``form`` is text, logfmt or json; ``fmt`` is the text layout (text only)."""

    def __init__(self, fmt: str | None = None, *, form: str = TEXT):
        super().__init__(fmt or TEXT_LAYOUT)
        if form not in FORMATS:
            raise ValueError(f"log format {form!r} is not one of {', '.join(FORMATS)}")
        self.form = form

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return iso(datetime.fromtimestamp(record.created, UTC)) or ""

    def format(self, record: logging.LogRecord) -> str:
        if self.form == TEXT:
            return self._text(record)
        parts = self._parts(record)
        if self.form == JSON:
            return json.dumps({k: _clean(v) for k, v in parts.items()}, ensure_ascii=False)
        return " ".join(f"{k}={logfmt_value(v)}" for k, v in parts.items())

    def _text(self, record: logging.LogRecord) -> str:
        """The layout, then the fields as ``key=value``; a traceback keeps its lines."""
        line = super().format(record)
        extra = " ".join(f"{k}={logfmt_value(v)}" for k, v in fields_of(record).items())
        if extra:
            head, newline, rest = line.partition("\n")
            line = f"{head} {extra}{newline}{rest}"
        return strip_controls(line)

    def _parts(self, record: logging.LogRecord) -> dict[str, Any]:
        message = record.getMessage()
        fields = fields_of(record)
        parts: dict[str, Any] = {"ts": self.formatTime(record), "level": level_name(record), "logger": record.name}
        if message != fields.get("event"):  # an event's message is its name: said once
            parts["msg"] = message
        parts.update((k, v) for k, v in fields.items() if k not in parts)
        if record.exc_info:
            parts["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            parts["stack"] = record.stack_info
        return parts


@dataclass(frozen=True)
class LogSetup:
    """How this process logs; a child ``drillbook run`` is started with the same."""

    form: str = TEXT
    level: str = "warning"


@dataclass
class _Active:
    setup: LogSetup = field(default_factory=LogSetup)


_ACTIVE = _Active()


def configure(setup: LogSetup, stream: TextIO | None = None) -> None:
    """One handler on the root logger, writing ``setup``'s format at ``setup``'s level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogFormatter(form=setup.form))
    logging.basicConfig(level=LEVELS[setup.level], handlers=[handler], force=True)
    _ACTIVE.setup = setup


def active() -> LogSetup:
    return _ACTIVE.setup


def environment(setup: LogSetup) -> dict[str, str]:
    """The variables that make a child ``drillbook`` log as ``setup`` says (``--log-format`` and
    ``--log-level`` read them)."""
    return {ENV_FORMAT: setup.form, ENV_LEVEL: setup.level}


def structured() -> bool:
    """True when stderr is for programs (logfmt, json): every line there must be a record."""
    return _ACTIVE.setup.form != TEXT


@dataclass(frozen=True)
class ParsedLine:
    """A log line read back: when it was, how bad, whose, what, and the fields."""

    ts: str | None
    level: str
    logger: str
    msg: str
    fields: dict[str, Any]


def parse_line(line: str, form: str) -> ParsedLine | None:
    """``line`` as written by :class:`LogFormatter` in ``form``; None when it is not such a line."""
    line = line.rstrip("\n")
    if form == JSON:
        return _parse_json(line)
    if form == LOGFMT:
        return _parse_logfmt(line)
    match = _TEXT_LINE.fullmatch(line)
    if not match:
        return None
    return ParsedLine(match[1], match[2].lower(), match[3], match[4], {})


def _parse_json(line: str) -> ParsedLine | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or "level" not in data:
        return None
    return _from_parts({str(k): v for k, v in data.items()})


def _parse_logfmt(line: str) -> ParsedLine | None:
    parts: dict[str, Any] = {}
    at = 0
    while at < len(line):
        match = _PAIR.match(line, at)
        if not match:
            return None
        key, value = match[1], match[2]
        try:
            parts[key] = json.loads(value) if value.startswith('"') else value
        except ValueError:
            return None
        at = match.end()
        while at < len(line) and line[at] == " ":
            at += 1
    return _from_parts(parts) if "ts" in parts and "level" in parts else None


def _from_parts(parts: dict[str, Any]) -> ParsedLine:
    ts, level, logger = parts.pop("ts", None), parts.pop("level", "info"), parts.pop("logger", "drillbook")
    msg = parts.pop("msg", None)
    if msg is None:
        msg = str(parts.get("event", ""))
    return ParsedLine(None if ts is None else str(ts), str(level), str(logger), str(msg), parts)


def forward(parsed: ParsedLine, **extra: Any) -> None:
    """Log ``parsed`` (another process's record) here as the record it was, with ``extra`` fields
    (which child it came from): its own time, level, logger, message and fields, one line."""
    logger = logging.getLogger(parsed.logger)
    levelno = LEVELS.get(parsed.level.lower(), logging.INFO)
    if not logger.isEnabledFor(levelno):
        return
    fields = {k: v for k, v in {**parsed.fields, **extra}.items() if k not in STANDARD}
    record = logger.makeRecord(logger.name, levelno, "(forwarded)", 0, parsed.msg, (), None, extra=fields)
    if parsed.ts:
        with suppress(ValueError):  # a time that does not parse: the record keeps the time it arrived
            record.created = parse_iso(parsed.ts).timestamp()
    logger.handle(record)
