"""Fakes for the engine's seams: a restic door that restores from a dict, a sandbox in a folder."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drillbook.backends.restic import Snapshot
from drillbook.drill.engine import DeclaredDrill, DrillRun, RunOptions
from drillbook.drill.seams import Seams
from drillbook.sandbox.holder import remove_tree
from drillbook.settings import Settings
from drillbook.spec.loader import load_drill
from tests.support import PASSWORD, PASSWORD_ENV, write_drill

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

    def open(self, repository: str, password: str, **kwargs: Any) -> FakeRestic:
        self.opened_with = {"repository": repository, "password": password, **kwargs}
        return self

    def version(self) -> str:
        return "0.14.0"

    def snapshots(self) -> list[Snapshot]:
        if self.on_snapshots:
            self.on_snapshots()
        return list(self.snapshots_held)

    def ls(self, snapshot_id: str) -> Iterable[dict[str, Any]]:
        return self.listed if self.listed is not None else nodes(self.files)

    def restore(self, snapshot_id: str, target: Path, verify: bool = True) -> None:
        if self.on_restore:
            self.on_restore()
        for node in self.ls(snapshot_id):
            if node["type"] == "dir":
                (target / node["path"].lstrip("/")).mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(data)


class FakeLauncher:
    def __init__(self) -> None:
        self.killed = False

    def kill_all(self) -> None:
        self.killed = True


@dataclass
class FakeSandbox:
    path: Path
    launcher: FakeLauncher = field(default_factory=FakeLauncher)
    torn_down: bool = False
    teardown_error: Exception | None = None
    leave_data: bool = False  # a teardown that says nothing but removes nothing

    @property
    def restore_root(self) -> Path:
        return self.path / "restore"

    @property
    def work_dir(self) -> Path:
        return self.path / "work"

    def record(self) -> dict[str, Any]:
        return {"network": "none", "fake": True}

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

    def create(self, root: Path, run_id: str, isolation: Any, env: dict[str, str]) -> FakeSandbox:
        if self.error:
            raise self.error
        sandbox = FakeSandbox(root / run_id, teardown_error=self.teardown_error, leave_data=self.leave_data)
        sandbox.restore_root.mkdir(parents=True)
        sandbox.work_dir.mkdir()
        self.made.append(sandbox)
        return sandbox


@dataclass
class Harness:
    """One drill, its folders and the fakes, ready to run through the real engine."""

    root: Path
    restic: FakeRestic = field(default_factory=FakeRestic)
    sandboxes: FakeSandboxes = field(default_factory=FakeSandboxes)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

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
        seams = Seams(open_restic=self.restic.open, create_sandbox=self.sandboxes.create)
        run = DrillRun(target or self.drill(), self.settings, options or RunOptions(), self.observe, seams)
        return run.execute().record


def password_env() -> dict[str, str]:
    return {PASSWORD_ENV: PASSWORD}
