"""Fakes for the engine's seams: a restic door that restores from a dict, a sandbox in a folder."""

from __future__ import annotations

import os
import pwd
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drillbook.backends.restic import Fault, ResticError, RestoreSize, Snapshot
from drillbook.backends.resticjson import RestoreCounts
from drillbook.drill.engine import DeclaredDrill, DrillRun, RunOptions
from drillbook.drill.seams import Seams
from drillbook.drill.selection import select_snapshot
from drillbook.sandbox.holder import remove_tree
from drillbook.sandbox.isolation import Account, Mode
from drillbook.sandbox.safety import SafetyReport, make_safe
from drillbook.settings import Settings
from drillbook.spec.loader import load_drill
from drillbook.spec.models import SnapshotSelector
from drillbook.util.process import Completed
from tests.support import PASSWORD, PASSWORD_ENV, write_drill
from tests.unit.checks.fakes import is_reader, run_reader

FILES = {f"srv/clinic/docs/letter-{i:04d}.txt": f"Patient letter {i}\n".encode() for i in range(12)}
CHECKS = """\
verify:
  - type: files
    path: srv/clinic/docs
    min_count: 10
    required: [letter-0001.txt]
"""


def snapshot(age: timedelta = timedelta(hours=1), host: str = "clinic-1", tags: tuple[str, ...] = ("nightly",),
             sid: str = "abc12345") -> Snapshot:
    return Snapshot(sid * 8, sid, datetime.now(UTC) - age, host, list(tags), ["/srv/clinic"])


def nodes(files: dict[str, bytes]) -> list[dict[str, Any]]:
    """What ``restic ls --json`` lists for ``files``: every folder above them, then the files."""
    folders = sorted({str(p) for f in files for p in Path(f).parents if str(p) != "."})
    return ([{"type": "dir", "path": "/" + d} for d in folders]
            + [{"type": "file", "path": "/" + f, "size": len(data)} for f, data in files.items()])


@dataclass
class FakeRestic:
    """A repository holding ``snapshots``; every one of them restores ``files``."""

    snapshots_held: list[Snapshot] = field(default_factory=lambda: [snapshot()])
    files: dict[str, bytes] = field(default_factory=lambda: dict(FILES))
    listed: list[dict[str, Any]] | None = None  # restic ls, when it should differ from the files
    on_restore: Callable[[], None] | None = None  # raise or sleep during the restore
    on_snapshots: Callable[[], None] | None = None
    opened_with: dict[str, Any] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)  # device nodes the snapshot holds
    device_errors: bool = False  # restic cannot make them (it runs unprivileged)
    restores: list[dict[str, Any]] = field(default_factory=list)  # how each restore was asked for
    stats_error: ResticError | None = None  # restic stats fails with this
    ls_error: ResticError | None = None  # restic ls fails with this
    slow_listing: bool = False  # restic ls runs until stopped (10 s at most), as on a hung repository
    stopped: threading.Event = field(default_factory=threading.Event)
    statuses: list[RestoreCounts] = field(default_factory=list)  # restic >= 0.17's progress
    summary: RestoreCounts | None = None  # restic >= 0.17's counts; 0.14 tells none
    listings: list[list[str]] = field(default_factory=list)  # how each restic ls was asked for
    restic_choice: str | None = None  # the snapshot restic ls chooses, when it should differ

    def open(self, repository: str, password: str, **kwargs: Any) -> FakeRestic:
        self.opened_with = {"repository": repository, "password": password, **kwargs}
        return self

    def version(self) -> str:
        return "0.14.0"

    def snapshots(self) -> list[Snapshot]:
        if self.on_snapshots:
            self.on_snapshots()
        return list(self.snapshots_held)

    def ls(self, snapshot: str, selection: Sequence[str] = ()) -> Iterable[dict[str, Any]]:
        """The snapshot restic would choose for ``latest`` and ``selection``, then its nodes."""
        self.listings.append([snapshot, *selection])
        if self.ls_error:
            raise self.ls_error
        if self.slow_listing and self.stopped.wait(10):
            raise ResticError(Fault.UNKNOWN, "restic ls was stopped", [])
        listed = self.listed if self.listed is not None else nodes(self.files)
        chosen = self.restic_choice or self._choose(snapshot, selection)
        return [{"struct_type": "snapshot", "id": chosen}, *listed,
                *({"type": "chardev", "path": d} for d in self.devices)]

    def _choose(self, snapshot: str, selection: Sequence[str]) -> str | None:
        if snapshot != "latest":
            return next((s.id for s in self.snapshots_held if s.id.startswith(snapshot)), None)
        given = dict(arg.removeprefix("--").split("=", 1) for arg in selection)
        selector = SnapshotSelector(host=given.get("host"), path=given.get("path"),
                                    tags=given["tag"].split(",") if "tag" in given else [])
        chosen = select_snapshot(self.snapshots_held, selector)
        return chosen.id if chosen else None

    def each_node(self, snapshot_id: str, visit: Callable[[dict[str, Any]], None]) -> None:
        for node in self.ls(snapshot_id):
            if node.get("struct_type") != "snapshot":  # restic's each_node hands over nodes only
                visit(node)

    def restore_size(self, snapshot_id: str) -> RestoreSize:
        if self.stats_error:
            raise self.stats_error
        return RestoreSize(sum(len(data) for data in self.files.values()), len(self.files))

    def stop(self) -> None:
        self.stopped.set()

    def restore(self, snapshot_id: str, target: Path, verify: bool = True, *,
                account: Account | None = None, leave_out: Sequence[str] = (),
                progress: Callable[[RestoreCounts], None] | None = None) -> RestoreCounts | None:
        self.restores.append({"target": target, "account": account, "leave_out": list(leave_out)})
        if self.on_restore:
            self.on_restore()
        for status in self.statuses:
            if progress:
                progress(status)
        refused = [d for d in self.devices if d not in leave_out] if self.device_errors else []
        if refused:
            lines = [f"ignoring error for {d}: operation not permitted\n" for d in refused]
            raise ResticError(Fault.UNKNOWN, f"restic failed (exit 1): Fatal: There were {len(refused)} errors",
                              [line.strip() for line in lines],
                              stderr="".join(lines) + f"Fatal: There were {len(refused)} errors\n")
        for node in self.listed if self.listed is not None else nodes(self.files):
            if node.get("type") == "dir":
                (target / node["path"].lstrip("/")).mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(data)
        return self.summary


class FakeLauncher:
    """Runs only the reader of the restore, on the host (see tests/unit/checks/fakes.py)."""

    def __init__(self) -> None:
        self.killed = False
        self.sweeps = 0
        self.left_running = 0  # what each sweep says it killed
        self.sweep_error: Exception | None = None
        self.events: list[tuple[str, str, dict[str, Any]]] | None = None  # where a sweep is noted

    def sweep(self) -> int:
        self.sweeps += 1
        if self.events is not None:
            self.events.append(("sweep", "", {}))
        if self.sweep_error:
            raise self.sweep_error
        return self.left_running

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            stdin_data: str | None = None) -> Completed:
        assert is_reader(argv), f"the engine's fake sandbox runs only the reader, not {argv}"
        return run_reader(argv, cwd, timeout, stdin_data)

    def kill_all(self) -> None:
        self.killed = True


def own_account() -> Account:
    return Account(pwd.getpwuid(os.getuid()).pw_name, os.getuid(), os.getgid())


@dataclass
class FakeSandbox:
    path: Path
    launcher: FakeLauncher = field(default_factory=FakeLauncher)
    torn_down: bool = False
    teardown_error: Exception | None = None
    leave_data: bool = False  # a teardown that says nothing but removes nothing
    account: Account = field(default_factory=own_account)
    mode: Mode = Mode.ROOTLESS
    restore_owners: list[str] = field(default_factory=list)  # "root" or "account", as prepared
    in_memory: int | None = None
    on_disk_again: int = 0  # how often the engine gave up the (pretended) tmpfs

    @property
    def restore_root(self) -> Path:
        return self.path / "restore"

    @property
    def restore_target(self) -> Path:
        return self.restore_root

    def restore_on_disk(self) -> None:
        if self.in_memory is not None:
            self.on_disk_again += 1
        self.in_memory = None

    @property
    def work_dir(self) -> Path:
        return self.path / "work"

    def record(self) -> dict[str, Any]:
        return {"network": "none", "fake": True}

    def prepare_restore(self, as_root: bool) -> None:
        self.restore_owners.append("root" if as_root else "account")

    def clear_restore(self, as_root: bool) -> None:
        remove_tree(self.restore_root)
        self.restore_root.mkdir()
        self.prepare_restore(as_root)

    def make_restore_safe(self) -> SafetyReport:
        return make_safe(self.restore_root, self.account.uid, self.account.gid)

    def teardown(self) -> None:
        if not self.leave_data:
            remove_tree(self.path)
        if self.teardown_error:
            raise self.teardown_error
        self.torn_down = True


@dataclass
class FakeSandboxes:
    """The sandbox factory: remembers what it made, or fails as told."""

    made: list[FakeSandbox] = field(default_factory=list)
    error: Exception | None = None
    teardown_error: Exception | None = None
    leave_data: bool = False
    mode: Mode = Mode.ROOTLESS
    slots: Path | None = None  # where the engine said sandbox slots are kept

    def create(self, root: Path, run_id: str, isolation: Any, env: dict[str, str],
               slots: Path | None = None) -> FakeSandbox:
        self.slots = slots
        if self.error:
            raise self.error
        sandbox = FakeSandbox(root / run_id, teardown_error=self.teardown_error, leave_data=self.leave_data,
                              mode=self.mode)
        sandbox.restore_root.mkdir(parents=True)
        sandbox.work_dir.mkdir()
        (sandbox.path / "config").mkdir()
        self.made.append(sandbox)
        return sandbox


@dataclass
class Harness:
    """One drill, its folders and the fakes, ready to run through the real engine."""

    root: Path
    restic: FakeRestic = field(default_factory=FakeRestic)
    sandboxes: FakeSandboxes = field(default_factory=FakeSandboxes)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    unreadable: str | None = None  # why the sandbox account cannot read the repository, if it cannot
    tried_reading: list[Path] = field(default_factory=list)
    free: int | OSError = 1 << 40  # what the sandbox root's filesystem has free, or how asking fails
    asked_free: list[Path] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings(drills_dir=self.root / "drills", reports_dir=self.root / "reports",
                        sandbox_root=self.root / "sandboxes", state_dir=self.root / "state",
                        runbooks_dir=self.root / "runbooks")

    def drill(self, body: str = CHECKS, **kwargs: str) -> DeclaredDrill:
        path = write_drill(self.settings.drills_dir, "clinic", "/nowhere/repo", body=body, **kwargs)
        drill, problems = load_drill(path)
        assert drill is not None, problems
        return DeclaredDrill(drill, path)

    def observe(self, event: str, name: str, info: dict[str, Any]) -> None:
        self.events.append((event, name, info))

    def run(self, target: DeclaredDrill | None = None, options: RunOptions | None = None) -> dict[str, Any]:
        seams = Seams(open_restic=self.restic.open, create_sandbox=self.sandboxes.create,
                      unreadable_by=self.try_reading, free_space=self.free_space)
        run = DrillRun(target or self.drill(), self.settings, options or RunOptions(), self.observe, seams)
        return run.execute().record

    def free_space(self, path: Path) -> int:
        self.asked_free.append(path)
        if isinstance(self.free, OSError):
            raise self.free
        return self.free

    def try_reading(self, account: Account, path: Path) -> str | None:
        self.tried_reading.append(path)
        return self.unreadable


def password_env() -> dict[str, str]:
    return {PASSWORD_ENV: PASSWORD}
