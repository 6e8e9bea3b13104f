"""Signed notes about runs: who reviewed a failed run, the corrective action taken, an exception.

A note is its own ledger entry linked to the run's entry (``about``); the run's record and
folder are never edited. Its seal is a new ledger head, anchored in the run's WORM bucket like
the run's own seal. The text is operator input that reports, terminals and an auditor's
browser show: controls and escape sequences are stripped and its length capped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from drillbook.errors import BadInput
from drillbook.evidence import ledger
from drillbook.evidence import verify as fmt
from drillbook.evidence.signing import load_signer
from drillbook.outputs import finish
from drillbook.settings import Settings
from drillbook.status import Status
from drillbook.util.clock import iso, parse_iso, utc_now
from drillbook.util.plain import strip_controls

KINDS = ("review", "corrective-action", "exception")
#: The notes that answer a failed run: someone looked at it, or fixed its cause.
ANSWERS = ("review", "corrective-action")
MAX_TEXT = 4000
MAX_BY = 120
DEFAULT_REVIEW_DAYS = 14


def clean(value: str, limit: int, keep: str = "") -> str:
    """``value`` without controls (``keep`` excepted), trimmed, at most ``limit`` characters."""
    text = strip_controls(value, keep).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def add(settings: Settings, run_id: str, by: str, kind: str, text: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise BadInput(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    who, said = clean(by, MAX_BY), clean(text, MAX_TEXT, "\n")
    if not who:
        raise BadInput("--by is empty: name who writes the note (e.g. --by 'A. Jones')")
    if not said:
        raise BadInput("--text is empty: say what was reviewed, done or excepted")
    note = {"note_kind": kind, "by": who, "text": said, "written_at": iso(utc_now()) or ""}
    entry = ledger.append_note(settings, clean(run_id, 200), note, load_signer(settings))
    finish.anchor_note(entry, settings)
    return entry


def by_run(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each run id's notes, oldest first, as the period report shows them."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if fmt.is_note(entry):
            found.setdefault(str(entry.get("run_id")), []).append(
                {"kind": entry.get("note_kind"), "by": entry.get("by"), "text": entry.get("text"),
                 "written_at": entry.get("written_at"), "seq": entry.get("seq")})
    return found


def unanswered(run: dict[str, Any], notes: list[dict[str, Any]], now: datetime, days: int) -> bool:
    """A failed run with no review or corrective action ``days`` after it finished."""
    if run.get("status") != Status.FAILED or any(n.get("kind") in ANSWERS for n in notes):
        return False
    try:
        ended = parse_iso(str(run.get("finished_at") or run.get("started_at")))
    except ValueError:
        return False
    return now - ended >= timedelta(days=days)
