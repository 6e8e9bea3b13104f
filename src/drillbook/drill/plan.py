"""``drillbook plan``: what a run of a drill would restore and check, found out without running it.

Online and read-only: the password is read and the repository opened as a run does (access.py),
the snapshot chosen as a run chooses it (selection.py), and its listing read node by node (the
door's ``each_node``) to say where it lands under the restore root and whether every path a
check reads is there. Nothing is written: no run folder, no ledger entry, no sandbox. A drill
written against the wrong password, host or path is found here, in seconds, with what to write
instead, rather than after an hour of restoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from drillbook.backends.repository import shown_repository
from drillbook.backends.restic import Fault, ResticError, Snapshot
from drillbook.backends.secrets import describe_source
from drillbook.checks.base import default_name
from drillbook.drill import access
from drillbook.drill.engine import RESTIC_TIMEOUT, DeclaredDrill
from drillbook.drill.pathhints import ListingIndex, PathAnswer, check_paths, first_missing
from drillbook.drill.seams import Seams
from drillbook.drill.selection import explain_no_match, future_dated, matches, select_snapshot
from drillbook.settings import Settings
from drillbook.util.clock import iso, utc_now
from drillbook.util.durations import format_duration
from drillbook.util.plain import strip_controls

OTHERS_SHOWN = 5
RUN_ID = "<run id>"  # the restore root of a run is named by its run id, not known before it starts


@dataclass
class SnapshotSeen:
    """A snapshot that matched the selector, with its age against the drill's RPO."""

    id: str
    short_id: str
    time: str
    host: str
    tags: list[str]
    paths: list[str]
    age_seconds: float
    within_rpo: bool

    @classmethod
    def of(cls, snapshot: Snapshot, now: datetime, rpo: float) -> SnapshotSeen:
        age = (now - snapshot.time).total_seconds()
        return cls(snapshot.id, snapshot.short_id, iso(snapshot.time) or "", snapshot.host,
                   list(snapshot.tags), list(snapshot.paths), round(age, 3), age <= rpo)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self, rpo_text: str) -> str:
        tags = f", tags {','.join(self.tags)}" if self.tags else ""
        verdict = "within" if self.within_rpo else "older than"
        return (f"{self.short_id} of {self.time}, host {self.host}{tags}, "
                f"age {format_duration(self.age_seconds)} ({verdict} the RPO of {rpo_text})")


@dataclass
class CheckPlan:
    """One check and the answers for the restored paths it reads."""

    name: str
    type: str
    paths: list[PathAnswer] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "paths": [p.to_dict() for p in self.paths]}


@dataclass
class DrillPlan:
    drill: str
    repository: str  # as shown: credentials in it hidden
    password_source: str  # kind and name, never the value
    selector: str
    rpo: str
    restore_root: str
    problems: list[str] = field(default_factory=list)
    chosen: SnapshotSeen | None = None
    why: str = ""
    matched: int = 0
    others: list[SnapshotSeen] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # relative to the restore root
    top_level: list[str] = field(default_factory=list)
    checks: list[CheckPlan] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "drill": self.drill, "ok": self.ok, "problems": self.problems,
            "repository": self.repository, "password_source": self.password_source,
            "selector": self.selector, "rpo": self.rpo, "restore_root": self.restore_root,
            "snapshot": self.chosen.to_dict() if self.chosen else None, "why": self.why,
            "matched": self.matched, "others": [s.to_dict() for s in self.others],
            "restored": [self._under_root(p) for p in self.restored], "top_level": self.top_level,
            "checks": [c.to_dict() for c in self.checks],
        }

    def _under_root(self, rel: str) -> str:
        return str(PurePosixPath(self.restore_root) / rel)

    def text_lines(self) -> list[str]:
        """The plan as a person reads it; names from the listing are already free of controls."""
        head = "ready" if self.ok else f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        lines = [f"{self.drill}: {head}",
                 f"  repository: {self.repository}",
                 f"  password:   {self.password_source}",
                 f"  selector:   {self.selector}"]
        if self.chosen:
            lines += [f"  snapshot:   {self.chosen.line(self.rpo)}", f"              {self.why}",
                      f"              taken of {', '.join(self.chosen.paths) or '-'}"]
        if self.others:
            lines.append("  also matching, newest first:")
            lines += [f"    {s.line(self.rpo)}" for s in self.others]
            if self.matched - 1 > len(self.others):
                lines.append(f"    and {self.matched - 1 - len(self.others)} older")
        if self.restored:
            lines.append("  restores under the restore root:")
            lines += [f"    {self._under_root(p)}" for p in self.restored]
        lines += self._check_lines()
        if self.problems:
            lines.append("  problems:")
            lines += [f"    - {p}" for p in self.problems]
        return [strip_controls(line) for line in lines]

    def _check_lines(self) -> list[str]:
        if not self.checks or self.chosen is None or not self.restored:
            return []
        lines = ["  checks:"]
        for check in self.checks:
            if not check.paths:
                lines.append(f"    {check.name}: reads no restored path")
            for answer in check.paths:
                lines.append(f"    {check.name}: {_answer_text(answer, self.top_level)}")
        return lines


def _answer_text(answer: PathAnswer, top_level: list[str]) -> str:
    if answer.found:
        return f"{answer.path} is in the snapshot"
    if answer.through_link:
        return (f"{answer.path} is behind the restored symlink {answer.through_link}: "
                "the listing cannot tell whether it is there")
    top = ", ".join(top_level) or "nothing"
    return f"{answer.path} is NOT in the snapshot{_guess(answer)} (restored top level: {top})"


def _guess(answer: PathAnswer) -> str:
    return f"; did you mean {' or '.join(answer.suggestions)}?" if answer.suggestions else ""


def plan_drill(target: DeclaredDrill, settings: Settings, seams: Seams | None = None,
               now: datetime | None = None) -> DrillPlan:
    """The plan of one drill; every problem found is in ``problems``, nothing is raised for one."""
    drill = target.drill
    source = drill.source
    base = target.folder(settings.drills_dir)
    result = DrillPlan(drill.name, shown_repository(source.repository, base),
                       describe_source(source.password, base),
                       source.snapshot.describe(), drill.objectives.rpo.text,
                       str(settings.sandbox_root / RUN_ID / "restore"))
    try:
        _find(target, settings, seams or Seams(), now or utc_now(), result)
    except access.AccessFailed as exc:
        named = f" (password source: {result.password_source})" if exc.password else ""
        result.problems.append(f"{exc}{named}")
    except ResticError as exc:
        result.problems.append(_restic_problem(exc, result))
    return result


def _find(target: DeclaredDrill, settings: Settings, seams: Seams, now: datetime, result: DrillPlan) -> None:
    drill = target.drill
    opened = access.open_repository(drill.source, target.folder(settings.drills_dir), settings.cache_dir,
                                    seams.open_restic, RESTIC_TIMEOUT)
    access.restic_version(opened)
    access.probe(opened)
    snapshots = opened.restic.snapshots()
    selector = drill.source.snapshot
    chosen = select_snapshot(snapshots, selector)
    if chosen is None:
        result.problems.append(explain_no_match(snapshots, selector))
        return
    rpo = float(drill.objectives.rpo)
    matched = sorted((s for s in snapshots if matches(s, selector)), key=lambda s: s.time, reverse=True)
    result.chosen = SnapshotSeen.of(chosen, now, rpo)
    result.matched = len(matched)
    result.why = (f"the snapshot with id {selector.id}" if selector.id else
                  f"newest of {len(matched)} snapshot{'s' if len(matched) != 1 else ''} matching "
                  f"{selector.describe()} ({len(snapshots)} in the repository)")
    result.others = [SnapshotSeen.of(s, now, rpo) for s in matched if s.id != chosen.id][:OTHERS_SHOWN]
    if problem := future_dated(chosen, now):
        result.problems.append(problem)
    readers: list[tuple[str, str, Any]] = [(default_name(spec), f"check {default_name(spec)}", spec)
                                           for spec in drill.verify]
    readers += [(f"service {name}", f"service {name}", spec) for name, spec in drill.services.items()]
    _read_listing(opened, chosen, readers, result)


def _read_listing(opened: access.Opened, chosen: Snapshot, readers: list[tuple[str, str, Any]],
                  result: DrillPlan) -> None:
    """Whether each restored path a check or a service reads is in the snapshot's listing."""
    wanted = [p for _, _, spec in readers for p in check_paths(spec)]
    index = ListingIndex(wanted, chosen.paths)
    opened.restic.each_node(chosen.id, index.add)
    result.restored, result.top_level = index.restored(), index.top_level()
    if not result.restored:
        result.problems.append(f"snapshot {chosen.short_id} is empty: a run would restore nothing")
    for name, label, spec in readers:
        check = CheckPlan(name, spec.type, first_missing(check_paths(spec), index))
        result.checks.append(check)
        result.problems += [f"{label}: {a.problem}{_guess(a)}" for a in check.paths if a.problem]


def _restic_problem(exc: ResticError, result: DrillPlan) -> str:
    if exc.kind == Fault.WRONG_PASSWORD:
        return f"{exc.message}; the password came from {result.password_source}"
    return f"{exc.message} (repository {result.repository})"
