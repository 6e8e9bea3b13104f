"""The throw-away place a drill restores into, and the launcher its checks run through.

Each run gets its own folder under the sandbox root (so concurrent drills never share files),
holding ``restore/`` (the restored tree) and ``work/`` (scratch for services). ``teardown`` is
idempotent and always runs, also after a failure or a signal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.process import Completed, kill_group, run_bounded
from drillbook.spec.models import Isolation

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


class IsolationError(Exception):
    """The declared isolation cannot be set up here: the drill must fail, not run with less."""


class PlainLauncher:
    """Runs children in their own process group with a scrubbed environment."""

    def __init__(self, base_env: dict[str, str]):
        self.base_env = base_env
        self.groups: list[int] = []

    def env_for(self, extra: dict[str, str]) -> dict[str, str]:
        return {**self.base_env, **extra}

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> Completed:
        return run_bounded(argv, cwd=cwd, env=self.env_for(env), timeout=timeout)

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=self.env_for(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.groups.append(proc.pid)
        return proc

    def kill_all(self) -> None:
        for pgid in self.groups:
            kill_group(pgid, quiet=True)


@dataclass
class Sandbox:
    path: Path
    isolation: Isolation
    launcher: Any
    env: dict[str, str] = field(default_factory=dict)

    @property
    def restore_root(self) -> Path:
        return self.path / "restore"

    @property
    def work_dir(self) -> Path:
        return self.path / "work"

    @classmethod
    def create(cls, root: Path, run_id: str, isolation: Isolation, env: dict[str, str]) -> "Sandbox":
        path = root / run_id
        (path / "restore").mkdir(parents=True, exist_ok=False)
        (path / "work").mkdir()
        (path / "home").mkdir()
        base_env = {
            "PATH": BASE_PATH,
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TZ": "UTC",
            "HOME": str(path / "home"),
            "DRILLBOOK_RESTORE_ROOT": str(path / "restore"),
            **env,
        }
        return cls(path=path, isolation=isolation, launcher=PlainLauncher(base_env), env=base_env)

    def record(self) -> dict[str, Any]:
        return {
            "network": "host",
            "user": "drillbook's own",
            "method": "none (plain subprocess)",
            "limits": {},
        }

    def teardown(self) -> None:
        self.launcher.kill_all()
        remove_tree(self.path)


def remove_tree(path: Path) -> None:
    """Remove a sandbox even when restored files are read-only."""
    if not path.exists():
        return

    def _make_writable(func: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(target, 0o700)
            os.chmod(os.path.dirname(target), 0o700)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=_make_writable)
