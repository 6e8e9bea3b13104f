"""A project's own notification bodies: Jinja2 templates of JSON, read from the drills folder.

Rules:
- a template is rendered in Jinja2's sandbox: a drill file may come from a less trusted colleague,
  and a template's text must not reach Python's internals (``''.__class__...``);
- it is read from the drills folder only, symlinks resolved: what it renders is sent to the
  target, so naming ``/etc/shadow`` (or a link to it, or an ``include`` of it) must not send it;
- every ``{{ expression }}`` is written as a JSON value (JSON's autoescape): ``{{ reason }}`` is a
  quoted, escaped string, ``{{ objectives.rto.met }}`` is ``true``; ``| tojson`` does the same;
  text is joined before it is encoded (``{{ ("drill " ~ drill) | tojson }}``), never pasted
  between quotes, and a body that is not JSON is refused, so pasting cannot go unnoticed;
- a name the context lacks is an error (a typo must not send an empty field);
- errors name the template file and its line: syntax errors when the spec is loaded, the rest
  when the body is rendered.

The context is the fields of the ``json`` body (see ``notify.payload``), as top-level names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    Undefined,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup


class TemplateProblem(Exception):
    """A template that cannot be used, with the file and the line when known."""

    def __init__(self, file: Path, line: int | None, message: str):
        super().__init__(f"template {file}{f':{line}' if line else ''}: {message}")
        self.file, self.line, self.message = file, line, message


class InsideLoader(FileSystemLoader):
    """A FileSystemLoader that refuses a file whose real path is outside its folder."""

    def get_source(self, environment: Any, template: str) -> Any:
        source, filename, uptodate = super().get_source(environment, template)
        root = os.path.realpath(self.searchpath[0])
        if os.path.commonpath([root, os.path.realpath(filename)]) != root:
            raise TemplateNotFound(f"{template} (it leads outside the drills folder)")
        return source, filename, uptodate


def as_json_value(value: Any) -> Any:
    """``finalize`` of every expression: its JSON encoding, unless ``tojson`` made it already."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, naming the missing name
    if isinstance(value, Markup):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def environment(folder: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=InsideLoader(str(folder)), undefined=StrictUndefined,
                                finalize=as_json_value, autoescape=False, keep_trailing_newline=True)


def check(folder: Path, name: str) -> None:
    """Load (and so compile) ``name``; raise TemplateProblem for a missing file or a syntax error."""
    try:
        environment(folder).get_template(name)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(Path(exc.filename or folder / name), exc.lineno, exc.message or str(exc)) from None
    except TemplateNotFound as exc:
        raise TemplateProblem(folder / name, None, f"not found in {folder} ({exc.message or name})") from None


def render_json(folder: Path, name: str, context: dict[str, Any]) -> str:
    """The rendered body, checked to be JSON; raises TemplateProblem."""
    check(folder, name)
    template = environment(folder).get_template(name)
    file = Path(template.filename or folder / name)
    try:
        text = template.render(context)
    except TemplateError as exc:
        raise TemplateProblem(file, _line_in(exc.__traceback__, str(file)), str(exc)) from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateProblem(file, None, f"rendered a body that is not JSON ({exc.msg} at line {exc.lineno} "
                                          "of the body): encode values with tojson instead of pasting "
                                          "them between quotes") from None
    return text


def _line_in(tb: TracebackType | None, filename: str) -> int | None:
    """The template line Jinja2 put into the traceback (its frames carry the template's name)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
