"""Where drillbook reads and writes: from flags, else environment, else defaults.

Only folders, and frozen: a run's options (trigger, keep the sandbox, time limit) and the project
configuration of ``drillbook.yaml`` are passed explicitly to what needs them, never stored here.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    drills_dir: Path = field(default_factory=lambda: Path("drills"))
    reports_dir: Path = field(default_factory=lambda: Path("reports"))
    sandbox_root: Path = field(default_factory=lambda: default_sandbox_root())
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    runbooks_dir: Path = field(default_factory=lambda: Path("runbooks"))

    @classmethod
    def from_env(cls, **overrides: Path | str | None) -> Settings:
        """A folder given as an override wins, then its environment variable, then the default."""
        unknown = set(overrides) - set(ENV_VARS)
        if unknown:
            raise TypeError(f"Settings has no folder {', '.join(sorted(unknown))}")
        values: dict[str, Path] = {}
        for attr, var in ENV_VARS.items():
            given = overrides.get(attr)
            if given is not None:
                values[attr] = Path(given)
            elif os.environ.get(var):
                values[attr] = Path(os.environ[var])
        return cls(**values)


ENV_VARS = {
    "drills_dir": "DRILLBOOK_DRILLS",
    "reports_dir": "DRILLBOOK_REPORTS",
    "sandbox_root": "DRILLBOOK_SANDBOX_ROOT",
    "state_dir": "DRILLBOOK_STATE",
    "runbooks_dir": "DRILLBOOK_RUNBOOKS",
}


def default_sandbox_root() -> Path:
    return Path(tempfile.gettempdir()) / "drillbook-sandboxes"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "drillbook"
