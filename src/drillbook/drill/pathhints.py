"""Whether a check's path is in a snapshot, from its listing, and which paths it may have meant.

A drill names paths relative to the restore root, and restic restores a snapshot of
``/srv/clinic`` under ``<restore root>/srv/clinic``: a drill that says ``data/docs`` finds nothing.
The listing (``restic ls``) says so before anything is restored. It may hold millions of nodes,
so :class:`ListingIndex` is fed one node at a time and keeps only what its questions need: the
wanted paths and their folders, the top level, the folders the snapshot was taken of, the paths
at the wanted paths' depths (the candidates of a misspelling), and the paths that end with a
wanted one (the same path under the snapshot's own prefix). Names in a listing are the backed-up
host's: every name shown passes through ``strip_controls``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from drillbook.spec.models import DatabaseService, FilesCheck, PostgresCheck, SqliteCheck
from drillbook.util.plain import strip_controls

MAX_SAME_DEPTH = 50_000  # candidates of one depth kept for difflib; past that, the first ones
MAX_ENDINGS = 5  # paths kept that end with one wanted path
MAX_TOP = 1000
SUGGESTED = 3
ROOT = "."


def norm(path: str) -> str:
    """A listing path (``/srv/clinic``) or a drill path (``srv/clinic/``) as one form: ``srv/clinic``."""
    text = str(PurePosixPath(path.lstrip("/")))
    return text or ROOT


def depth(path: str) -> int:
    return 0 if path == ROOT else len(PurePosixPath(path).parts)


def ancestors(path: str) -> list[str]:
    """The folders above ``path``, nearest the root first, without the root."""
    parts = PurePosixPath(path).parts
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def check_paths(spec: Any) -> list[str]:
    """The restored paths a check reads, as the drill wrote them; the restore root itself is none."""
    if isinstance(spec, FilesCheck):
        paths = [str(PurePosixPath(spec.path) / r) for r in spec.required]
        return [p for p in (spec.path, *paths) if norm(p) != ROOT]
    if isinstance(spec, SqliteCheck):
        return [spec.path]
    if isinstance(spec, (PostgresCheck, DatabaseService)):
        return [p for p in (spec.dump, spec.data_dir) if p]
    return []  # command, http, tcp and sql checks and process services name no restored path


@dataclass
class PathAnswer:
    """One wanted path: found, behind a restored symlink (the listing cannot tell), or missing."""

    path: str
    found: bool
    through_link: str | None = None
    suggestions: list[str] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        if self.found or self.through_link:
            return None
        return f"{self.path} is not in the snapshot"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "found": self.found, "through_link": self.through_link,
                "suggestions": self.suggestions, "problem": self.problem}


class ListingIndex:
    """What one pass over a listing keeps to answer for ``wanted`` paths (see the module's text)."""

    def __init__(self, wanted: Iterable[str], snapshot_paths: Iterable[str] = ()):
        self.wanted = {norm(p) for p in wanted} - {ROOT}
        self.roots = [_suffixes(norm(p)) for p in snapshot_paths]
        self.asked = self.wanted | {a for w in self.wanted for a in ancestors(w)}
        self.asked |= {s for suffixes in self.roots for s in suffixes}
        self.kinds: dict[str, str] = {}
        self.depths = {depth(w) for w in self.wanted}
        self.same_depth: dict[int, list[str]] = {d: [] for d in self.depths}
        self.endings: dict[str, list[str]] = {w: [] for w in self.wanted}
        self.top: dict[str, str] = {}

    def add(self, node: dict[str, Any]) -> None:
        path, kind = norm(str(node.get("path", ""))), str(node.get("type", ""))
        if path == ROOT:
            return
        if path in self.asked:
            self.kinds[path] = kind
        level = depth(path)
        if level == 1 and len(self.top) < MAX_TOP:
            self.top[path] = kind
        same = self.same_depth.get(level)
        if same is not None and len(same) < MAX_SAME_DEPTH:
            same.append(path)
        for want, found in self.endings.items():
            if len(found) < MAX_ENDINGS and path.endswith("/" + want):
                found.append(path)

    def add_all(self, nodes: Iterable[dict[str, Any]]) -> ListingIndex:
        for node in nodes:
            self.add(node)
        return self

    def kept(self) -> int:
        """How many paths this index holds: bounded by the questions, not by the snapshot."""
        return (len(self.kinds) + len(self.top) + sum(map(len, self.same_depth.values()))
                + sum(map(len, self.endings.values())))

    def answer(self, path: str) -> PathAnswer:
        want = norm(path)
        if want == ROOT or want in self.kinds:
            return PathAnswer(path, True)
        link = next((a for a in ancestors(want) if self.kinds.get(a) == "symlink"), None)
        if link:
            return PathAnswer(path, False, through_link=strip_controls(link))
        return PathAnswer(path, False, suggestions=self._suggest(want))

    def _suggest(self, want: str) -> list[str]:
        prefixed = sorted(self.endings.get(want, []), key=len)
        close = difflib.get_close_matches(want, self.same_depth.get(depth(want), []), n=SUGGESTED)
        return [strip_controls(p) for p in dict.fromkeys([*prefixed, *close])][:SUGGESTED]

    def restored(self) -> list[str]:
        """Where the snapshot's folders land under the restore root: each one's longest suffix in the
        listing (a backup of the relative ``srv`` names ``/build/srv`` but lists ``/srv``); the top
        level when none is found."""
        found = [next((s for s in suffixes if s in self.kinds), None) for suffixes in self.roots]
        shown = [strip_controls(s) for s in dict.fromkeys(f for f in found if f)]
        return shown or self.top_level()

    def top_level(self) -> list[str]:
        return sorted(strip_controls(p) for p in self.top)

    def top_line(self) -> str:
        names = sorted(strip_controls(p) + ("/" if k == "dir" else "") for p, k in self.top.items())
        return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "") or "nothing"


def _suffixes(path: str) -> list[str]:
    """``srv/clinic`` -> ``srv/clinic``, ``clinic``: longest first."""
    parts = PurePosixPath(path).parts if path != ROOT else ()
    return ["/".join(parts[i:]) for i in range(len(parts))]


def first_missing(paths: Sequence[str], index: ListingIndex) -> list[PathAnswer]:
    """Each path's answer, leaving out those below a path already missing (one cause, said once)."""
    answers: list[PathAnswer] = []
    missing: list[str] = []
    for path in paths:
        if any(norm(path).startswith(m + "/") for m in missing):
            continue
        answer = index.answer(path)
        answers.append(answer)
        if answer.problem:
            missing.append(norm(path))
    return answers


def missing_hint(spec: Any, nodes: Iterable[dict[str, Any]], snapshot_paths: Iterable[str]) -> str | None:
    """For a failed check: where its missing path may be, from the listing a run already holds."""
    paths = check_paths(spec)
    if not paths:
        return None
    index = ListingIndex(paths, snapshot_paths).add_all(nodes)
    missing = next((a for a in first_missing(paths, index) if a.problem), None)
    if missing is None:
        return None
    hint = f"restored top level: {index.top_line()}"
    return hint + (f"; did you mean {missing.suggestions[0]}?" if missing.suggestions else "")
