"""The reader's entry point: one request in (JSON, first argument), one JSON answer out.

Run inside the sandbox by :mod:`drillbook.sandbox.inside`. Whatever goes wrong becomes an answer:
an exception is reported by its type and place only (:func:`crash_words`), never its message,
which may quote restored bytes.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drillbook.checks.reading.damage import damage_answer
from drillbook.checks.reading.files import files_answer
from drillbook.checks.reading.postgres import adopt_answer, source_answer
from drillbook.checks.reading.sqlite import sqlite_answer
from drillbook.checks.reading.tree import tree_answer

#: A request whose ``input`` is this gets the JSON on the reader's standard input instead
#: (a snapshot's listing is far larger than an argument may be).
FROM_STDIN = "stdin"

OPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "files": files_answer,
    "sqlite": sqlite_answer,
    "pg_source": source_answer,
    "pg_adopt": adopt_answer,
    "tree": tree_answer,
    "damage": damage_answer,
}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    op = OPS.get(str(request.get("op")))
    if op is None:
        return {"crash": f"the reader has no operation {request.get('op')!r}"}
    try:
        return op(request)
    except Exception as exc:  # the check fails, naming where; the message stays out of the record
        return {"crash": crash_words(exc)}


def crash_words(exc: BaseException) -> str:
    """An exception in drillbook's words: its type and where it was raised, not its message.

    The text of an arbitrary exception is built from whatever the failing code held: ``int()`` of
    a restored ``PG_VERSION`` that is really a key quotes the key.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {frames[-1].name} ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return (f"check could not run: {type(exc).__name__}{where}; its message is not recorded, as it "
            "may quote restored data")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        request = json.loads(args[0])
        if request.get("input") == FROM_STDIN:
            request["input"] = json.load(sys.stdin)
    except (IndexError, ValueError, AttributeError):
        print(json.dumps({"crash": "the reader was given no request"}))
        return 2
    print(json.dumps(answer(request)))
    return 0
