"""Makes restic repositories for the demo and the tests: the writing drillbook itself never does.

drillbook's restic door (``drillbook.backends.restic``) is read-only by construction. Building a
repository to drill against (``init``, ``backup`` with a chosen host, tags and time) is fixture
work, done here with plain restic commands; the password goes through the environment, never argv.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class RepoError(RuntimeError):
    """A restic command that builds a repository failed; the message carries restic's stderr."""


@dataclass(frozen=True)
class RepoBuilder:
    """One repository to write to: local path or any restic URL, with its backend's environment."""

    repository: str
    password: str
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 600.0

    def init(self) -> None:
        self._restic("init")

    def backup(self, paths: Sequence[str], *, host: str, tags: Sequence[str], cwd: Path,
               time_override: str | None = None) -> str:
        """Back ``paths`` (relative to ``cwd``) up; returns the full id of the snapshot made."""
        args = ["--json", "--host", host]
        for tag in tags:
            args += ["--tag", tag]
        if time_override:
            args += ["--time", time_override]
        out = self._restic("backup", *args, "--", *paths, cwd=cwd)
        summary = next(m for m in map(json.loads, out.splitlines())
                       if m.get("message_type") == "summary")
        short = summary["snapshot_id"]  # restic 0.14 prints the short id here
        return next(s["id"] for s in self.snapshots() if s["id"].startswith(short))

    def snapshots(self) -> list[dict[str, Any]]:
        return json.loads(self._restic("snapshots", "--json") or "[]")

    def _restic(self, subcommand: str, *args: str, cwd: Path | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env.update(self.env)
        env.update(RESTIC_REPOSITORY=self.repository, RESTIC_PASSWORD=self.password,
                   RESTIC_PROGRESS_FPS="0.2")
        done = subprocess.run(["restic", subcommand, "--no-cache", *args], env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=self.timeout, check=False)
        if done.returncode != 0:
            raise RepoError(f"restic {subcommand} failed (exit {done.returncode}): {done.stderr.strip()}")
        return done.stdout


def readable_by_all(top: Path) -> None:
    """Whatever the umask was: others may read every file and enter and run what the owner may.

    restic keeps a repository readable by its owner only; what is in it is encrypted, so reading
    it without the password shows only sizes. The demo and the tests open theirs to the sandbox
    account this way, so that restic restores as that account and not as root.
    """
    top.chmod(stat.S_IMODE(top.stat().st_mode) | 0o055)
    for base, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(base) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            extra = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            path.chmod(stat.S_IMODE(mode) | extra)
