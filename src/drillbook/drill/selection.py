"""Which snapshot a drill restores: the newest that matches every given field, not the newest.

A snapshot's time is whatever the backed-up host's clock said, or whatever ``restic backup --time``
was given. One dated in the future is always "newest", so it would keep a stale backup looking
fresh for ever; selection still picks it (skipping it would quietly restore an older backup and
hide the problem) and :func:`future_dated` gives the reason the drill fails on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from drillbook.backends.restic import Snapshot
from drillbook.spec.models import SnapshotSelector
from drillbook.util.clock import iso

CLOCK_TOLERANCE = timedelta(minutes=5)  # clocks of the backed-up host and of this one may differ


def matches(snapshot: Snapshot, selector: SnapshotSelector) -> bool:
    if selector.id:
        return snapshot.id.startswith(selector.id) or snapshot.short_id == selector.id
    if selector.host and snapshot.host != selector.host:
        return False
    if selector.tags and not set(selector.tags) <= set(snapshot.tags):
        return False
    return not selector.path or _norm(selector.path) in {_norm(p) for p in snapshot.paths}


def select_snapshot(snapshots: Iterable[Snapshot], selector: SnapshotSelector) -> Snapshot | None:
    candidates = [s for s in snapshots if matches(s, selector)]
    if selector.id and len(candidates) > 1:
        return None  # an ambiguous id prefix must not silently pick one
    return max(candidates, key=lambda s: s.time, default=None)


def future_dated(snapshot: Snapshot, now: datetime) -> str | None:
    """Why ``snapshot`` cannot be trusted as dated, or None when its time is not in the future."""
    if snapshot.time <= now + CLOCK_TOLERANCE:
        return None
    return (f"snapshot {snapshot.short_id} is dated in the future ({iso(snapshot.time)}); the clock of "
            "the backed-up host is wrong or the snapshot was forged")


def explain_no_match(snapshots: list[Snapshot], selector: SnapshotSelector) -> str:
    """Say which condition ruled the snapshots out, so on-call can fix the right thing."""
    if not snapshots:
        return "the repository has no snapshots at all"
    if selector.id:
        hits = [s for s in snapshots if matches(s, selector)]
        if len(hits) > 1:
            return f"snapshot id {selector.id} is ambiguous ({len(hits)} snapshots match it)"
        return f"no snapshot with id {selector.id} (the repository has {len(snapshots)})"
    hosts = sorted({s.host for s in snapshots})
    tags = sorted({t for s in snapshots for t in s.tags})
    seen = (
        f"the repository has {len(snapshots)} snapshot(s); hosts: {', '.join(hosts) or '-'}; "
        f"tags: {', '.join(tags) or '-'}"
    )
    if selector.path:
        paths = sorted({p for s in snapshots for p in s.paths})
        seen += f"; paths: {', '.join(paths[:5])}"
    return f"no snapshot matches {selector.describe()} ({seen})"


def _norm(path: str) -> str:
    return str(PurePosixPath(path))


def restic_selection(selector: SnapshotSelector) -> tuple[str, list[str]]:
    """The selector in restic's own words (``latest`` and its filters, or the id), for the listing
    that starts before drillbook's own choice is known; the two are compared once both are in.

    restic's ``--tag a,b`` wants both tags, like the selector; ``--path`` is compared cleaned.
    """
    if selector.id:
        return selector.id, []
    args = [f"--host={selector.host}"] if selector.host else []
    if selector.tags:
        args.append("--tag=" + ",".join(selector.tags))
    if selector.path:
        args.append(f"--path={_norm(selector.path)}")
    return "latest", args
