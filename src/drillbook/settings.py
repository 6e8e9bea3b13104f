"""Where drillbook reads and writes: from flags, else environment, else defaults."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.spec.models import ProjectConfig


@dataclass
class Settings:
    drills_dir: Path = field(default_factory=lambda: Path("drills"))
    reports_dir: Path = field(default_factory=lambda: Path("reports"))
    sandbox_root: Path = field(default_factory=lambda: default_sandbox_root())
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    runbooks_dir: Path = field(default_factory=lambda: Path("runbooks"))
    keep_sandbox: bool = False
    project: ProjectConfig = field(default_factory=ProjectConfig)
    trigger: str = "manual"
    restic_timeout: float = 6 * 3600.0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {}
        for attr, var in ENV_VARS.items():
            given = overrides.get(attr)
            if given is not None:
                values[attr] = Path(str(given))
            elif os.environ.get(var):
                values[attr] = Path(os.environ[var])
        for key, value in overrides.items():
            if key not in ENV_VARS and value is not None:
                values[key] = value
        return cls(**values)  # type: ignore[arg-type]


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
