"""When drillbook first saw each drill declared, each schedule it has had since, and its removal.

A drill declared this morning with a monthly schedule was not due at the start of the quarter: the
period report counts due times only from when the drill existed, with the schedule it had then.
Every ``validate``, ``run``, ``schedule`` and ``serve`` looks at the drills folder and notes what
changed in ``declared.json`` in the state folder (written whole, under its own lock). A drill is
marked removed only after a look that loaded the whole folder without a problem: a file that fails
to parse for a moment is not a removal.

The file is drillbook's own memory, not evidence: each run record carries the sighting of its
drill (:meth:`Sighting.record_entry`) and is sealed in the signed ledger, so the report can take
the earliest date either shows, and a first sighting edited to a later date hides no due time a
sealed run already vouches for.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drillbook.evidence.period import Span
from drillbook.spec.loader import DrillSet
from drillbook.util.atomic import write_json_atomic
from drillbook.util.clock import iso, parse_iso, utc_now
from drillbook.util.locks import LockBusy, file_lock

FILE = "declared.json"
LOCK_FILE = "declared.lock"
FORMAT = "drillbook-declared/1"
LOCK_TIMEOUT = 10.0

log = logging.getLogger(__name__)

#: A drill's schedule as the report counts it: (schedule or None for on demand, timezone).
Declared = tuple[str | None, str]


@dataclass(frozen=True)
class Stint:
    """From ``since`` until the next stint: declared with this schedule, or removed."""

    since: datetime
    schedule: str | None
    timezone: str
    removed: bool = False

    def to_dict(self) -> dict[str, Any]:
        if self.removed:
            return {"since": iso(self.since), "removed": True}
        return {"since": iso(self.since), "schedule": self.schedule, "timezone": self.timezone}


@dataclass(frozen=True)
class Sighting:
    """One drill's history; ``history`` is never empty and its first stint is the first sighting."""

    name: str
    history: tuple[Stint, ...]

    @property
    def first_seen(self) -> datetime:
        return self.history[0].since

    @property
    def removed_at(self) -> datetime | None:
        return self.history[-1].since if self.history[-1].removed else None

    @property
    def last_declared(self) -> Stint:
        return next(s for s in reversed(self.history) if not s.removed)

    @property
    def schedule_since(self) -> datetime:
        """When the drill's present (or last) schedule began."""
        return self.last_declared.since

    def record_entry(self) -> dict[str, Any]:
        """What a run record carries, so the sealed evidence shows since when the drill existed."""
        last = self.last_declared
        return {"first_seen": iso(self.first_seen), "schedule": last.schedule, "schedule_since": iso(last.since)}

    def spans(self, start: datetime, until: datetime, since: datetime | None = None) -> list[Span]:
        """The stretches of [start, until) the drill was declared, each with its schedule.

        ``since`` (when earlier evidence shows the drill existed before its first sighting)
        moves the first stint's start back to it.
        """
        found = []
        for index, stint in enumerate(self.history):
            if stint.removed:
                continue
            begin = min(stint.since, since) if since is not None and index == 0 else stint.since
            end = self.history[index + 1].since if index + 1 < len(self.history) else until
            begin, end = max(begin, start), min(end, until)
            if begin < end:
                found.append(Span(stint.schedule, stint.timezone, begin, end))
        return found


def read(state_dir: Path) -> dict[str, Sighting]:
    """The sightings kept so far; none when the file is missing or unreadable."""
    try:
        data = json.loads((state_dir / FILE).read_text(encoding="utf-8"))
        return {name: _sighting(name, entry) for name, entry in data["drills"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _sighting(name: str, entry: dict[str, Any]) -> Sighting:
    stints = tuple(Stint(parse_iso(s["since"]), s.get("schedule"), s.get("timezone", "UTC"), bool(s.get("removed")))
                   for s in entry["history"])
    if not stints:
        raise ValueError(f"{name}: empty history")
    return Sighting(name, stints)


def observe(state_dir: Path, declared: Mapping[str, Declared], *, complete: bool,
            now: datetime | None = None) -> dict[str, Sighting]:
    """Note the drills declared now; ``complete`` when ``declared`` is the whole folder without problems."""
    now = now or utc_now()
    with file_lock(state_dir / LOCK_FILE, timeout=LOCK_TIMEOUT):
        _set_aside_unreadable(state_dir / FILE)
        seen = read(state_dir)
        changed = False
        for name, (schedule, timezone) in declared.items():
            updated = _seen_now(seen.get(name), name, schedule, timezone, now)
            changed |= updated is not seen.get(name)
            seen[name] = updated
        if complete:
            for name in set(seen) - set(declared):
                if seen[name].removed_at is None:
                    seen[name] = Sighting(name, (*seen[name].history, Stint(now, None, "UTC", removed=True)))
                    changed = True
        if changed or not (state_dir / FILE).exists():
            write_json_atomic(state_dir / FILE, {"format": FORMAT, "drills": {
                name: {"history": [s.to_dict() for s in seen[name].history]} for name in sorted(seen)}})
    return seen


def _seen_now(before: Sighting | None, name: str, schedule: str | None, timezone: str, now: datetime) -> Sighting:
    """``before`` itself when nothing changed, else the sighting with a new stint."""
    if before is None:
        return Sighting(name, (Stint(now, schedule, timezone),))
    last = before.history[-1]
    if not last.removed and (last.schedule, last.timezone) == (schedule, timezone):
        return before
    return Sighting(name, (*before.history, Stint(now, schedule, timezone)))


def _set_aside_unreadable(path: Path) -> None:
    """Keep a damaged file for a person to look at instead of overwriting it."""
    if path.exists() and not read(path.parent):
        try:
            json.loads(path.read_text(encoding="utf-8"))["drills"].items()
        except (ValueError, KeyError, TypeError, AttributeError):
            os.replace(path, path.with_name(path.name + ".unreadable"))


def entry_for(state_dir: Path, name: str) -> dict[str, Any] | None:
    """The sighting a run record of drill ``name`` carries; None when drillbook never noted it."""
    found = read(state_dir).get(name)
    return found.record_entry() if found else None


def declared_in(drills: DrillSet) -> dict[str, Declared]:
    return {name: (drill.schedule, drill.timezone) for name, drill in drills.drills.items()}


def notice(state_dir: Path, drills: DrillSet, now: datetime | None = None) -> dict[str, Sighting]:
    """:func:`observe` for a command that loaded ``drills``: a state folder it cannot write is
    logged, never a reason to fail the command (``validate`` by a colleague without it, say)."""
    try:
        return observe(state_dir, declared_in(drills), complete=not drills.problems, now=now)
    except (OSError, LockBusy) as exc:
        log.warning("could not note the declared drills in %s: %s", state_dir / FILE, exc)
        return {}
