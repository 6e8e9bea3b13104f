"""Negative controls: proof that a drill's checks can fail at all.

A check that passes on the real restore proves something only if it would fail on a broken one:
``command: [true]`` passes on anything. With ``control: true`` (or ``drillbook run --control``),
once every check has passed, each is run again against damaged copies of the restore: an empty
restore (its folders, no file) for every check, and the damage its kind reads for some (a required
file gone and fewer files than ``min_count`` for ``files``; the database or dump cut to half for
``sqlite`` and ``postgres``). A check that still passes is vacuous, and the drill fails naming it.

The copies are made inside the sandbox, by the reader running as the sandbox account (see
checks/reading/damage.py), in a folder of the account's beside the restore, which stays as it was.
Controls run after the checks' clock stopped: they never count in the RTO.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from drillbook.checks.base import CheckContext, default_name
from drillbook.checks.services.stack import addresses_stack
from drillbook.drill.record import CheckResult
from drillbook.sandbox.inside import read_inside
from drillbook.sandbox.launcher import Launcher
from drillbook.spec.models import FilesCheck, PostgresCheck, SqliteCheck
from drillbook.status import Status

#: The damaged copy, in the sandbox's ``work/`` folder (the account's, like the copy).
FOLDER = "drillbook-control"
#: Copying the folders of a restore of millions of files, or half of a large database.
DAMAGE_TIMEOUT = 3600.0


class ControlFailed(Exception):
    """A damaged copy could not be made: the controls prove nothing, so the drill fails."""


@dataclass(frozen=True)
class Damage:
    """One way to break the restore: in words (``what``) and as the reader's request."""

    what: str
    request: dict[str, Any]


@dataclass
class Control:
    """A check run on one damaged copy: ``caught`` when it failed there, as it should."""

    check: str
    damage: str
    caught: bool
    detail: str = ""
    duration_seconds: float = 0.0

    def record(self) -> dict[str, Any]:
        return asdict(self)


EMPTY = Damage("an empty restore", {"kind": "empty"})
REMOVE = Damage("no damaged copy left", {"kind": "none"})


def damages_for(spec: Any) -> list[Damage]:
    """The damaged copies ``spec`` must fail on: the empty restore, then what its kind reads."""
    if isinstance(spec, FilesCheck):
        return [EMPTY, *_files_damages(spec)]
    if isinstance(spec, SqliteCheck):
        return [EMPTY, _cut(spec.path)]
    if isinstance(spec, PostgresCheck):
        return [EMPTY, _cut(str(spec.dump or spec.data_dir))]
    return [EMPTY]


def _files_damages(spec: FilesCheck) -> list[Damage]:
    found = []
    if spec.required:
        gone = spec.required[0]
        found.append(Damage(f"a restore without {_join(spec.path, gone)}",
                            {"kind": "mirror", "path": spec.path, "drop": [gone]}))
    if spec.min_count > 0:
        fewer = spec.min_count - 1
        found.append(Damage(f"a restore with {fewer} file{'s' if fewer != 1 else ''} under {spec.path}",
                            {"kind": "mirror", "path": spec.path, "limit": fewer, "first": list(spec.required)}))
    return found


def _cut(path: str) -> Damage:
    return Damage(f"a restore whose {path} is cut to half its size", {"kind": "truncate", "path": path})


def _join(folder: str, rel: str) -> str:
    return str(PurePosixPath(folder) / rel)


def build_damaged(launcher: Launcher, own_dir: Path, restore_root: Path, into: Path, damage: Damage) -> None:
    """The damaged copy at ``into``, made by the reader inside the sandbox; ControlFailed if not."""
    answer = read_inside(launcher, own_dir, into.parent, {"op": "damage", "root": str(restore_root),
                                                          "into": str(into), "damage": damage.request},
                         DAMAGE_TIMEOUT)
    if "error" in answer:
        raise ControlFailed(f"the damaged copy ({damage.what}) could not be made: {answer['error']}")


def controllable(specs: Iterable[Any], has_services: bool) -> tuple[list[Any], list[str]]:
    """The checks a damaged copy can try, and the names of those it cannot: a check of the drill's
    running stack (``sql``, a probe that starts nothing) reaches services started from the real
    restore, which a damaged copy has none of; it would fail there for want of them, proving nothing."""
    tried, left = [], []
    for spec in specs:
        if addresses_stack(spec, has_services):
            left.append(default_name(spec))
        else:
            tried.append(spec)
    return tried, left


def run_controls(specs: Iterable[Any], ctx: CheckContext, run: Callable[[Any, CheckContext], CheckResult],
                 after: Callable[[CheckResult], None]) -> list[Control]:
    """Each check on each of its damaged copies, in order; ``after`` runs after each (the sweep).

    Raises ControlFailed or ReaderFailed when a copy cannot be made or removed.
    """
    into = ctx.work_dir / FOLDER
    damaged = replace(ctx, restore_root=into)
    found: list[Control] = []
    for spec in specs:
        for damage in damages_for(spec):
            started = time.monotonic()
            build_damaged(ctx.launcher, ctx.own_dir, ctx.restore_root, into, damage)
            result = run(spec, damaged)
            after(result)
            found.append(Control(default_name(spec), damage.what, result.status != Status.PASSED,
                                 result.detail, round(time.monotonic() - started, 3)))
    build_damaged(ctx.launcher, ctx.own_dir, ctx.restore_root, into, REMOVE)
    return found


def vacuous(controls: Iterable[Control]) -> str | None:
    """The drill's failure when a check passed on damage, naming each such check once."""
    named: dict[str, str] = {}
    for control in controls:
        if not control.caught:
            named.setdefault(control.check, control.damage)
    return "; ".join(f"check '{check}' also passes on {damage}: it proves nothing about the backup"
                     for check, damage in named.items()) or None


def summary(controls: Iterable[Mapping[str, Any]]) -> str:
    """"4 of 4 checks proven to catch damage": a check is proven when every control caught.

    Reads the controls as the record holds them (``Control.record``), so reports use it too.
    """
    proven: dict[str, bool] = {}
    for control in controls:
        proven[control["check"]] = proven.get(control["check"], True) and bool(control["caught"])
    total = len(proven)
    return f"{sum(proven.values())} of {total} check{'s' if total != 1 else ''} proven to catch damage"
