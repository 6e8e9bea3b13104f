"""Helpers shared by tests: real restic repositories, drill files, the CLI as a subprocess."""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.repos import RepoBuilder
from drillbook.drill.record import Objective, RunRecord
from drillbook.outputs import finish
from drillbook.outputs.runstore import RunKind, run_dir
from drillbook.sandbox.holder import remove_tree
from drillbook.settings import Settings
from drillbook.status import Status
from drillbook.util.atomic import write_json_atomic
from drillbook.util.clock import iso

PASSWORD = "correct horse battery staple"
PASSWORD_ENV = "TEST_RESTIC_PASSWORD"
# Which restic drillbook runs in the tests: the system's (Debian 12's 0.14) unless this names another
# (make test runs the tests marked restic_versions again with .tools/restic-0.18/restic). The
# repositories are always built by the system's restic (devtools/repos.py): a newer one reads them.
RESTIC_UNDER_TEST = "DRILLBOOK_RESTIC"


def free_port() -> int:
    """A loopback TCP port nothing listens on now (bound, then released): for a server a test starts,
    or to point a client at a port where nothing answers."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def restic_under_test() -> str:
    """The restic binary drillbook runs in these tests, for wrappers that log its argv."""
    return os.environ.get(RESTIC_UNDER_TEST) or "restic"


def restic_version_under_test() -> str:
    """What ``restic version`` of :func:`restic_under_test` says its version is (``0.18.0``)."""
    done = subprocess.run([restic_under_test(), "version"], capture_output=True, text=True, check=True)
    return done.stdout.split()[1]


def make_sample_tree(root: Path, files: int = 20, rows: int = 1500) -> Path:
    """A clinic's documents and an appointments database: what the drills verify."""
    docs = root / "srv" / "clinic" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (docs / f"letter-{i:04d}.txt").write_text(f"Patient letter {i}\n" * (i + 1))
    db_dir = root / "srv" / "clinic" / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_dir / "appointments.sqlite")
    conn.execute("create table if not exists appointments (id integer primary key, patient text, at text)")
    conn.executemany("insert into appointments (patient, at) values (?, ?)",
                     [(f"patient-{i}", f"2026-11-{1 + i % 28:02d}") for i in range(rows)])
    conn.commit()
    conn.close()
    return root / "srv" / "clinic"


@dataclass
class Repo:
    path: Path
    password: str
    data_root: Path

    def builder(self) -> RepoBuilder:
        return RepoBuilder(str(self.path), self.password)

    def init(self) -> None:
        self.builder().init()

    def backup(self, host: str = "clinic-1", tags: tuple[str, ...] = ("nightly",),
               time_override: str | None = None) -> str:
        """One backup of ``srv`` under the data root; returns the new snapshot's id."""
        return self.builder().backup(["srv"], host=host, tags=tags, cwd=self.data_root,
                                     time_override=time_override)


def make_repo(tmp: Path, files: int = 20, rows: int = 1500) -> Repo:
    data_root = tmp / "source"
    make_sample_tree(data_root, files=files, rows=rows)
    repo = Repo(tmp / "repo", PASSWORD, data_root)
    repo.init()
    return repo


def write_drill(folder: Path, name: str, repo: Path | str, *, body: str = "", rto: str = "10m",
                rpo: str = "1d", snapshot: str = "{host: clinic-1, tags: [nightly]}") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(f"""\
        description: Clinic documents and appointments
        owner: clinic-oncall@example.org
        objectives: {{rto: {rto}, rpo: {rpo}}}
        source:
          repository: {repo}
          password: {{env: {PASSWORD_ENV}}}
          snapshot: {snapshot}
        """) + textwrap.dedent(body)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


STANDARD_CHECKS = """\
verify:
  - type: files
    path: srv/clinic/docs
    min_count: 10
    required: [letter-0001.txt]
  - type: sqlite
    path: srv/clinic/db/appointments.sqlite
    queries:
      - {sql: "select count(*) from appointments", expect: ">= 1000"}
"""


@functools.cache
def sandbox_base() -> Path:
    """A folder for this test process's sandbox roots that every account can search.

    The sandbox account creates a drill's namespaces and must reach its sandbox folder, but
    pytest's temporary folders are private (0700) to the account running the tests.
    """
    base = Path(tempfile.mkdtemp(prefix="drillbook-test-sandboxes-"))
    base.chmod(0o755)
    atexit.register(remove_tree, base)
    return base


@dataclass
class Workspace:
    root: Path

    @classmethod
    def made(cls, root: Path) -> Workspace:
        """A workspace with its folders made (module-scoped fixtures build one themselves)."""
        ws = cls(root)
        for folder in (ws.drills, ws.reports, ws.sandboxes, ws.state):
            folder.mkdir(parents=True)
        return ws

    @property
    def drills(self) -> Path:
        return self.root / "drills"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def sandboxes(self) -> Path:
        """Outside ``root`` (see sandbox_base), one folder per workspace."""
        return sandbox_base() / hashlib.sha256(str(self.root).encode()).hexdigest()[:16]

    @property
    def state(self) -> Path:
        return self.root / "state"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DRILLBOOK_", "RESTIC_"))}
        if RESTIC_UNDER_TEST in os.environ:  # the restic the tests run drillbook with (see restic_under_test)
            env[RESTIC_UNDER_TEST] = os.environ[RESTIC_UNDER_TEST]
        env.update({
            "DRILLBOOK_DRILLS": str(self.drills),
            "DRILLBOOK_REPORTS": str(self.reports),
            "DRILLBOOK_SANDBOX_ROOT": str(self.sandboxes),
            "DRILLBOOK_STATE": str(self.state),
            "DRILLBOOK_RUNBOOKS": str(self.root / "runbooks"),
            PASSWORD_ENV: PASSWORD,
        })
        env.update(extra)
        return env

    def cli(self, *args: str, timeout: float = 300, input: str | None = None,
            **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "drillbook", *args], cwd=self.root,
                              env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout, input=input)

    def runs(self, drill: str) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.reports / drill).glob("*/run.json"))]

    def last_run(self, drill: str) -> dict[str, Any]:
        runs = self.runs(drill)
        assert runs, f"no run recorded for {drill}"
        return runs[-1]


def write_orphan_record(reports: Path, drill: str, run_id: str, sandbox: Path | None = None) -> Path:
    """A run.json left ``running`` by a drillbook that died: its owner pid no longer exists."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    path = reports / drill / run_id / "run.json"
    write_json_atomic(path, {
        "run_id": run_id, "drill": drill, "kind": "drill", "status": "running",
        "started_at": "2026-01-01T00:00:00.000Z", "phases": [], "checks": [],
        "objectives": {"rto": {"target_seconds": 600, "target": "10m", "measured_seconds": None, "met": None},
                       "rpo": {"target_seconds": 86400, "target": "1d", "measured_seconds": None, "met": None}},
        "process": {"pid": dead.pid, "host": socket.gethostname(), "boot_time": None,
                    "process_start": 1, "sandbox": str(sandbox) if sandbox else None},
    })
    return path


def finished_run(settings: Settings, name: str, started: datetime, rto: float, size_gib: float,
                 status: str = Status.PASSED, target: tuple[float, str] = (900.0, "15m")) -> Path:
    """One finished run of ``size_gib`` GiB written by the real post-run steps (run.json, its
    reports, the index and history pages, the ledger's seal): a history for trend tests."""
    size = round(size_gib * 1024**3)
    run_id = started.strftime("%Y%m%dT%H%M%SZ") + "-00000a"
    record = RunRecord(run_id=run_id, drill=name, started_at=iso(started) or "", status=status,
                       finished_at=iso(started + timedelta(seconds=rto)),
                       reason=None if status == Status.PASSED else "a check failed",
                       objectives={"rto": Objective(target[0], target[1], rto, rto <= target[0]),
                                   "rpo": Objective(86400.0, "1d", 3600.0, True)},
                       restore={"restored": {"files_restored": 10, "total_files": 10,
                                             "bytes_restored": size, "total_bytes": size}})
    folder = run_dir(settings.reports_dir, name, run_id)
    finish.finish(finish.PostRun(RunKind.DRILL, folder, record, settings))
    return folder
