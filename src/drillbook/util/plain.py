"""The one filter for text a restore or a check may have written: what a terminal or a viewer
would obey is taken out, the words around it stay.

A restored program's output, a restored file name or a drill file's text may hold escape
sequences (retitle the window, clear the screen, move the cursor and write a fake "passed"), NUL,
C1 controls, and format characters that change how text reads without being seen: bidirectional
overrides and isolates (``exe.txt`` shown as ``txt.exe``), zero-width characters. Records,
reports, notifications and terminal lines keep none of them; newline and tab are kept where the
caller says a text may span lines.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# ESC sequences, removed whole: CSI (colours, cursor moves, clearing the screen), OSC (window
# title, hyperlinks, clipboard) and DCS/SOS/PM/APC strings up to their terminator or the end of
# the line (an unterminated one must not swallow the rest of a record), any other ESC with the
# character after it.
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
                     r"|\x1b[PX^_][^\x1b\n]*(?:\x1b\\)?|\x1b.?", re.DOTALL)
_REMOVED = {"Cc", "Cf"}  # controls (C0, DEL, C1) and format characters (bidi, zero-width)
MULTI_LINE = "\n\t"


def strip_controls(text: str, keep: str = MULTI_LINE) -> str:
    """``text`` without escape sequences, control and format characters, except those in ``keep``.

    The default keeps newline and tab, not carriage return: followed by text, it rewrites the
    line it ends on a terminal.
    """
    if text.isprintable():
        return text
    plain = _ESCAPE.sub("", text) if "\x1b" in text else text
    return "".join(c for c in plain if c in keep or unicodedata.category(c) not in _REMOVED)


def strip_controls_in(data: Any, keep: str = MULTI_LINE) -> Any:
    """A copy of JSON-like ``data`` (dicts, lists, strings) with every string, keys too, filtered."""
    if isinstance(data, str):
        return strip_controls(data, keep)
    if isinstance(data, dict):
        return {strip_controls_in(k, keep): strip_controls_in(v, keep) for k, v in data.items()}
    if isinstance(data, list):
        return [strip_controls_in(item, keep) for item in data]
    if isinstance(data, tuple):
        return tuple(strip_controls_in(item, keep) for item in data)
    return data
