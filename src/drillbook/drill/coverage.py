"""Backups never drilled: snapshot groups of the drills' repositories that no drill selects.

A drill proves the backups its selector matches and says nothing of the rest. A repository that
holds a second host's backups, or a path backed up under other tags, can go years without anyone
restoring it. For every repository a drill references, the snapshots in a window are grouped the
way restic groups them (host, paths, tags) and a group is uncovered when no drill's selector
matches its snapshots, by the one matching rule a run uses (selection.matches: every selector tag
present, the path one of the snapshot's, exactly).

Read-only: ``restic snapshots`` through the drill's own door (access.py), nothing restored.
Snapshot fields are whatever the backed-up host wrote: control characters are stripped before
anything is shown or recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drillbook.backends.repository import resolve_repository, shown_repository
from drillbook.backends.restic import Restic, ResticError, Snapshot
from drillbook.drill import access
from drillbook.drill.engine import DeclaredDrill
from drillbook.drill.seams import ResticDoor
from drillbook.drill.selection import matches
from drillbook.settings import Settings
from drillbook.spec.loader import load_drills
from drillbook.spec.models import SnapshotSelector
from drillbook.util.clock import iso
from drillbook.util.plain import strip_controls
from drillbook.util.scrub import scrub

#: One ``restic snapshots``: seconds even on a remote repository; a stuck one must not hold up a
#: period report for the hours a restore may take.
SNAPSHOTS_TIMEOUT = 600.0


@dataclass(frozen=True)
class Group:
    """Snapshots of one host, paths and tag set: what restic's ``--group-by host,paths,tags`` makes."""

    repository: str  # as shown: credentials hidden
    host: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    latest: datetime
    size: int | None  # bytes the newest snapshot backed up, when restic reports it (0.17+)
    snapshots: int

    def record(self) -> dict[str, Any]:
        return {"repository": self.repository, "host": _line(self.host),
                "paths": [_line(p) for p in self.paths], "tags": [_line(t) for t in self.tags],
                "latest": iso(self.latest), "size_bytes": self.size, "snapshots": self.snapshots}


def _line(text: str) -> str:
    """A snapshot field as one line of plain text: the backed-up host wrote it."""
    return strip_controls(text, keep="")


@dataclass
class Repository:
    """One repository the drills reference: which drills, how many snapshots, or why unread."""

    repository: str
    drills: list[str]
    snapshots: int = 0
    groups: int = 0
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return {"repository": self.repository, "drills": self.drills, "snapshots": self.snapshots,
                "groups": self.groups, "error": self.error}


@dataclass
class Coverage:
    repositories: list[Repository] = field(default_factory=list)
    uncovered: list[Group] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every repository read and every group drilled: nothing to report."""
        return not self.uncovered and not any(r.error for r in self.repositories)

    def record(self) -> dict[str, Any]:
        return {"repositories": [r.record() for r in self.repositories],
                "uncovered": [g.record() for g in self.uncovered]}


def uncovered_groups(snapshots: Iterable[Snapshot], selectors: list[SnapshotSelector], since: datetime,
                     until: datetime | None = None, repository: str = "") -> tuple[int, list[Group]]:
    """How many groups had a snapshot in the window, and those no selector matches (newest first)."""
    grouped: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[Snapshot]] = {}
    for snapshot in snapshots:
        if snapshot.time >= since and (until is None or snapshot.time < until):
            key = (snapshot.host, tuple(sorted(snapshot.paths)), tuple(sorted(set(snapshot.tags))))
            grouped.setdefault(key, []).append(snapshot)
    found = []
    for (host, paths, tags), members in grouped.items():
        if any(matches(s, selector) for s in members for selector in selectors):
            continue
        newest = max(members, key=lambda s: s.time)
        found.append(Group(repository, host, paths, tags, newest.time, newest.size, len(members)))
    return len(grouped), sorted(found, key=lambda g: g.latest, reverse=True)


def measure(drills: Mapping[str, DeclaredDrill], settings: Settings, since: datetime,
            until: datetime | None = None, open_restic: Callable[..., ResticDoor] = Restic) -> Coverage:
    """Every repository the drills reference, read once, with the groups no drill selects."""
    coverage = Coverage()
    for targets in _by_repository(drills, settings).values():
        shown = shown_repository(targets[0].drill.source.repository, targets[0].folder(settings.drills_dir))
        entry = Repository(shown, sorted(t.drill.name for t in targets))
        coverage.repositories.append(entry)
        try:
            snapshots = _snapshots(targets[0], settings, open_restic)
        except access.AccessFailed as exc:
            entry.error = _line(str(exc))
            continue
        entry.snapshots = len(snapshots)
        entry.groups, groups = uncovered_groups(snapshots, [t.drill.source.snapshot for t in targets], since,
                                                until, shown)
        coverage.uncovered += groups
    return coverage


def measure_declared(settings: Settings, since: datetime, until: datetime | None = None,
                     open_restic: Callable[..., ResticDoor] = Restic) -> Coverage:
    """:func:`measure` for every drill of the drills folder that loads (the period report's
    section): a broken drill file is the validator's to report, not a reason for no section."""
    if not settings.drills_dir.is_dir():
        return Coverage()
    loaded = load_drills(settings.drills_dir)
    targets = {name: DeclaredDrill(drill, loaded.files.get(name), loaded.config)
               for name, drill in loaded.drills.items()}
    return measure(targets, settings, since, until, open_restic)


def _by_repository(drills: Mapping[str, DeclaredDrill], settings: Settings) -> dict[str, list[DeclaredDrill]]:
    """Drills by the repository restic is given (a relative path resolved against each drill's file)."""
    found: dict[str, list[DeclaredDrill]] = {}
    for name in sorted(drills):
        target = drills[name]
        key = resolve_repository(target.drill.source.repository, target.folder(settings.drills_dir))
        found.setdefault(key, []).append(target)
    return found


def _snapshots(target: DeclaredDrill, settings: Settings, open_restic: Callable[..., ResticDoor]) -> list[Snapshot]:
    opened = access.open_repository(target.drill.source, target.folder(settings.drills_dir), settings.cache_dir,
                                    open_restic, SNAPSHOTS_TIMEOUT)
    try:
        return opened.restic.snapshots()
    except ResticError as exc:
        raise access.AccessFailed(scrub(exc.message, opened.secrets)) from None
