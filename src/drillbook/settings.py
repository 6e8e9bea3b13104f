"""Where drillbook reads and writes: from flags, else environment, else defaults.

Only folders, and frozen: a run's options (trigger, keep the sandbox, time limit) and the project
configuration of ``drillbook.yaml`` are passed explicitly to what needs them, never stored here.
:func:`prepare_folders` makes and checks the folders a run writes to (see util/trust.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.util.trust import Folder, ensure_folder

#: As root, sandboxes are made here unless told otherwise (see default_sandbox_root).
ROOT_SANDBOX_ROOT = Path("/var/lib/drillbook-sandboxes")
STATE_MODE = 0o700
REPORTS_MODE = 0o750
#: As root, the sandbox account must pass through the sandbox root to reach its own run's folder.
ROOT_SANDBOX_MODE = 0o711
SANDBOX_MODE = 0o700
#: Stands for "not given": the sandbox root then follows the state folder.
_UNDER_STATE = Path("<under the state folder>")


@dataclass(frozen=True)
class Settings:
    drills_dir: Path = field(default_factory=lambda: Path("drills"))
    reports_dir: Path = field(default_factory=lambda: Path("reports"))
    sandbox_root: Path = _UNDER_STATE
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    runbooks_dir: Path = field(default_factory=lambda: Path("runbooks"))

    def __post_init__(self) -> None:
        if self.sandbox_root is _UNDER_STATE:
            object.__setattr__(self, "sandbox_root", default_sandbox_root(self.state_dir))

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


def default_sandbox_root(state_dir: Path, as_root: bool | None = None) -> Path:
    """Never a fixed name in a shared temp folder: any local account could make that one first.

    An ordinary account restores under its own state folder. Root cannot: its state folder is
    usually under /root (0700), which the sandbox account must pass through and cannot, so root
    uses a folder of its own under /var/lib.
    """
    if as_root is None:
        as_root = os.geteuid() == 0
    return ROOT_SANDBOX_ROOT if as_root else Path(os.path.abspath(state_dir)) / "sandboxes"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "drillbook"


def prepare_folders(settings: Settings, *, reports_group: str | None = None, create: bool = True) -> None:
    """Make the folders a run writes to when missing, and refuse any another account controls.

    Raises CannotRun (exit 3) naming the folder, what is wrong and the fix. The state folder is
    always made (every command that writes keeps a lock or a queue there); without ``create``
    a missing sandbox root or reports folder is left missing (``drillbook cleanup``). The sandbox
    root comes first: as root, the folders it makes are 0711, so that a state folder above it
    (when it is given one inside) lets the sandbox account pass as well.
    """
    as_root = os.geteuid() == 0
    ensure_folder(Folder(settings.sandbox_root, "sandbox root", "--sandbox-root or DRILLBOOK_SANDBOX_ROOT",
                         ROOT_SANDBOX_MODE if as_root else SANDBOX_MODE), create=create)
    ensure_folder(Folder(settings.state_dir, "state", "--state or DRILLBOOK_STATE", STATE_MODE))
    ensure_folder(Folder(settings.reports_dir, "reports", "--reports or DRILLBOOK_REPORTS", REPORTS_MODE,
                         reports_group), create=create)
