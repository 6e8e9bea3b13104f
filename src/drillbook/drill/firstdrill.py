"""``drillbook init``: a first drill for one group of snapshots of an existing restic repository.

The repository is only read, through the restic door (snapshots, stats, ls). A group is what
restic groups snapshots by: host and paths. The newest snapshot matching ``--host``/``--path``
decides the group; when the repository holds several and neither flag chose one, nothing is
written and the groups are listed with the flag that picks one: a drill of the wrong host would
pass and prove nothing about the backup that matters.

The file is written only when it loads as a drill, and never over an existing file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from drillbook.backends.repository import display_repository, resolve_repository
from drillbook.backends.restic import Fault, Restic, ResticError, Snapshot
from drillbook.drill.access import AccessFailed, Opened, open_repository, probe
from drillbook.drill.seams import ResticDoor
from drillbook.drill.selection import explain_no_match, matches
from drillbook.errors import BadInput, CannotRun
from drillbook.settings import Settings
from drillbook.spec.loader import validate_located
from drillbook.spec.models import NAME_PATTERN, Drill, PasswordSource, SnapshotSelector, Source
from drillbook.spec.starter import FirstDrill, render
from drillbook.spec.yamlsource import load_located
from drillbook.util.atomic import write_text_new
from drillbook.util.clock import iso
from drillbook.util.plain import strip_controls
from drillbook.util.scrub import Scrubber

#: Files are counted from ``restic ls`` only when the snapshot has at most this many nodes
#: (``restic stats`` says): the listing of a larger one costs minutes and memory for a comment.
MAX_COUNTED_NODES = 200_000
LIST_TIMEOUT = 3600.0  # one restic call of init: listing a large remote repository takes a while
DRILL_MODE = 0o644  # a drill holds no secret (the password stays in its file); serve's account reads it
COUNTED_TYPES = ("file", "symlink")  # what a restore always makes (not devices), and count_files counts

Group = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class InitRequest:
    repository: str
    password_file: Path
    host: str | None = None
    path: str | None = None
    name: str | None = None
    output: Path | None = None


@dataclass(frozen=True)
class Written:
    """What was written, for the command to tell."""

    file: Path
    drill: FirstDrill
    snapshots: int  # in the chosen group


def write_first_drill(request: InitRequest, settings: Settings,
                      open_restic: Callable[..., ResticDoor] = Restic) -> Written:
    """Read the repository, choose the group, write its drill; BadInput for what the user can fix."""
    if request.name is not None and not re.match(NAME_PATTERN, request.name):
        raise BadInput(f'--name "{strip_controls(request.name, keep="")}" is not a drill name '
                       "(letters, digits, . _ - only)")
    if request.output is not None or request.name is not None:
        _refuse_existing(request.output or settings.drills_dir / f"{request.name}.yaml")
    password_file = Path(os.path.abspath(os.path.expanduser(request.password_file)))
    repository = resolve_repository(request.repository, Path.cwd())
    opened = _open(repository, password_file, settings, open_restic)
    group, newest, members = _choose(_snapshots(opened, repository), request)
    path = _snapshot_path(newest, request.path)
    name = request.name or default_name(group[0], path)
    file = request.output or settings.drills_dir / f"{name}.yaml"
    restored, count = _locate(opened.restic, newest, path)
    first = FirstDrill(name=name, repository=repository, password_file=str(password_file), host=newest.host,
                       path=path, snapshot=newest.short_id, restored=restored, min_count=count)
    _write(file, render(first, write_name=file.stem != name))
    return Written(file, first, members)


def default_name(host: str, path: str) -> str:
    """``clinic-1`` and ``/srv/clinic`` make ``clinic-1-clinic``: a file name and a drill name."""
    text = f"{host}-{PurePosixPath(path).name}" if PurePosixPath(path).name else host
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return name or "first-drill"


def _refuse_existing(file: Path) -> None:
    if file.exists() or file.is_symlink():
        raise BadInput(f"{file} already exists: drillbook init never overwrites a file "
                       "(give another --output or --name, or remove it)")


def _open(repository: str, password_file: Path, settings: Settings,
          open_restic: Callable[..., ResticDoor]) -> Opened:
    """The door opened as a run opens it (drill/access.py), the password read from its file."""
    source = Source(repository=repository, password=PasswordSource(file=str(password_file)))
    try:
        opened = open_repository(source, Path.cwd(), settings.cache_dir, open_restic, LIST_TIMEOUT)
        probe(opened)
    except AccessFailed as exc:
        raise BadInput(str(exc)) from None
    return opened


def _snapshots(opened: Opened, repository: str) -> list[Snapshot]:
    try:
        return opened.restic.snapshots()
    except ResticError as exc:
        reason = Scrubber(opened.secrets)(exc.message)
        message = f"cannot list the snapshots of {display_repository(repository)}: {reason}"
        raise (CannotRun(message) if exc.kind == Fault.NOT_INSTALLED else BadInput(message)) from None


def _choose(snapshots: list[Snapshot], request: InitRequest) -> tuple[Group, Snapshot, int]:
    """The one group the flags leave, its newest snapshot and how many it has."""
    selector = SnapshotSelector(host=request.host, path=request.path)
    found = [s for s in snapshots if matches(s, selector)]
    if not found:
        raise BadInput(strip_controls(explain_no_match(snapshots, selector), keep=""))
    groups: dict[Group, list[Snapshot]] = {}
    for snapshot in found:
        groups.setdefault((snapshot.host, tuple(snapshot.paths)), []).append(snapshot)
    if len(groups) > 1:
        raise BadInput(_several(groups, request))
    (group, members), = groups.items()
    return group, max(members, key=lambda s: s.time), len(members)


def _several(groups: dict[Group, list[Snapshot]], request: InitRequest) -> str:
    hosts = {host for host, _ in groups}
    flags = "--host" if len(hosts) > 1 and request.host is None else "--path"
    if len(hosts) > 1 and request.host is None and len(hosts) < len(groups):
        flags = "--host and --path"
    lines = [f"the repository holds {len(groups)} groups of snapshots (host and paths); "
             f"choose one with {flags}:"]
    for (host, paths), members in sorted(groups.items()):
        newest = max(members, key=lambda s: s.time)
        lines.append(f"  --host {_plain(host)} --path {_plain(paths[0] if paths else '')}"
                     f"{_more(paths)}  ({len(members)} snapshot(s), newest {newest.short_id} "
                     f"of {iso(newest.time)})")
    return "\n".join(lines)


def _plain(text: str) -> str:
    return strip_controls(text, keep="") or '""'


def _more(paths: Iterable[str]) -> str:
    rest = list(paths)[1:]
    return f" (with {', '.join(_plain(p) for p in rest)})" if rest else ""


def _snapshot_path(snapshot: Snapshot, wanted: str | None) -> str:
    """The path as the snapshot spells it: the one asked for, else its first."""
    if wanted is not None:
        return next(p for p in snapshot.paths if PurePosixPath(p) == PurePosixPath(wanted))
    if not snapshot.paths:
        raise BadInput(f"snapshot {snapshot.short_id} lists no paths: there is nothing to check")
    return snapshot.paths[0]


def _locate(restic: ResticDoor, snapshot: Snapshot, path: str) -> tuple[str, int | None]:
    """Where ``path`` lies below the restore root, and the files and links below it.

    The snapshot's ``paths`` are absolute, but the tree restic restores may hold them shorter
    (restic before 0.17 stored ``srv`` for a backup of ``srv`` made in ``/data``), so the place is
    read from the listing: the longest tail of the path that is a node of the tree. A snapshot too
    large to list cheaply, or one where the path is not found, gets the restore root and no count.
    """
    tree = _Tails(_tails(path))
    try:
        if restic.restore_size(snapshot.id).total_file_count > MAX_COUNTED_NODES:
            return ".", None
        restic.each_node(snapshot.id, tree.visit)
    except ResticError:
        return ".", None  # the place and the count are a convenience: the root always holds the restore
    found = next((tail for tail in tree.tails if tail in tree.kinds), None)
    if found is None:
        return ".", None
    if tree.kinds[found] != "dir":  # a backup of one file: its folder, holding at least that file
        return str(PurePosixPath(found).parent).lstrip("/") or ".", 1
    return found.lstrip("/") or ".", tree.counts[found]


class _Tails:
    """One pass over a listing, holding no node: which tails are nodes, and what is below each."""

    def __init__(self, tails: list[str]):
        self.tails = tails
        self.kinds: dict[str, str] = {}
        self.counts = dict.fromkeys(tails, 0)

    def visit(self, node: dict[str, Any]) -> None:
        name, kind = str(node.get("path", "")), str(node.get("type"))
        if name in self.counts:
            self.kinds[name] = kind
        if kind in COUNTED_TYPES:
            for tail in self.tails:
                if name.startswith(tail.rstrip("/") + "/"):
                    self.counts[tail] += 1


def _tails(path: str) -> list[str]:
    """``/data/srv/clinic``, ``/srv/clinic``, ``/clinic``: the path and each shorter tail of it."""
    parts = PurePosixPath(path).parts[1:] if PurePosixPath(path).is_absolute() else PurePosixPath(path).parts
    return ["/" + "/".join(parts[i:]) for i in range(len(parts))] or ["/"]


def _write(file: Path, text: str) -> None:
    """Only a drill that loads, and never over a file (one made meanwhile included)."""
    _, problems = validate_located(file, load_located(text), Drill, {"name": file.stem})
    if problems:
        raise CannotRun("the drill written for this snapshot would not load: "
                        + "; ".join(str(p) for p in problems))
    try:
        write_text_new(file, text, DRILL_MODE)
    except FileExistsError:
        _refuse_existing(file)
        raise
    except OSError as exc:
        raise BadInput(f"cannot write {file}: {exc.strerror or exc}") from None
