"""Where drillbook reads and writes: from flags, else environment, else defaults.

The rules, and the reason each folder was chosen, are in :mod:`drillbook.locations`;
:func:`folders_in_use` is what ``drillbook paths`` shows. Only folders, and frozen: a run's
options (trigger, keep the sandbox, time limit) and the project configuration of ``drillbook.yaml``
are passed explicitly to what needs them, never stored here.
:func:`prepare_folders` makes and checks the folders a run writes to (see util/trust.py).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from drillbook import locations
from drillbook.errors import CannotRun
from drillbook.locations import ENV_VARS, PROJECT_CONFIG, Host
from drillbook.util.trust import Folder, ensure_folder

#: As root, sandboxes are made here unless told otherwise (see default_sandbox_root).
ROOT_SANDBOX_ROOT = Path("/var/lib/drillbook-sandboxes")
STATE_MODE = 0o700
REPORTS_MODE = 0o750
#: As root, the sandbox account must pass through the sandbox root to reach its own run's folder.
ROOT_SANDBOX_MODE = 0o711
SANDBOX_MODE = 0o700
log = logging.getLogger("drillbook.settings")
#: Stands for "not given": the sandbox root (and the cache) then follow the state folder.
_UNDER_STATE = Path("<under the state folder>")
__all__ = ["ENV_VARS", "FolderInUse", "Settings", "default_sandbox_root", "default_state_dir",
           "folders_in_use", "prepare_folders"]


@dataclass(frozen=True)
class Settings:
    drills_dir: Path = field(default_factory=lambda: Path("drills"))
    reports_dir: Path = field(default_factory=lambda: Path("reports"))
    sandbox_root: Path = _UNDER_STATE
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    runbooks_dir: Path = field(default_factory=lambda: Path("runbooks"))
    #: restic's cache of remote repositories (see backends/repository.cache_dir).
    cache_dir: Path = _UNDER_STATE
    #: The folder holding drills/ and runbooks/, when one was chosen (see locations.config_folder).
    config_dir: Path | None = None
    #: Why each folder is the one it is, by attribute: what ``drillbook paths`` shows.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.sandbox_root is _UNDER_STATE:
            object.__setattr__(self, "sandbox_root", default_sandbox_root(self.state_dir))
        if self.cache_dir is _UNDER_STATE:
            object.__setattr__(self, "cache_dir", self.state_dir / "cache")

    @classmethod
    def from_env(cls, *, config: Path | str | None = None, host: Host | None = None,
                 **overrides: Path | str | None) -> Settings:
        """A folder given as an override wins, then its environment variable, then the rules of
        :mod:`drillbook.locations` (``config`` is ``--config``; ``host`` is this process by default)."""
        unknown = set(overrides) - set(ENV_VARS)
        if unknown:
            raise TypeError(f"Settings has no folder {', '.join(sorted(unknown))}")
        host = host or Host.current()
        chosen = locations.choose(overrides, config, host)
        origins = {attr: choice.reason for attr, choice in chosen.items()}
        values: dict[str, Any] = {attr: choice.path for attr, choice in chosen.items()}
        if "sandbox_root" not in chosen:
            values["sandbox_root"] = default_sandbox_root(values["state_dir"], as_root=host.as_root)
            origins["sandbox_root"] = ("default for root: outside the state folder" if host.as_root
                                       else "default: sandboxes/ in the state folder")
        return cls(**values, origins=origins)


@dataclass(frozen=True)
class FolderInUse:
    """One row of ``drillbook paths``: a folder (or the project file), why, and what it is like.

    ``writable`` is whether this account may write it or, when it is missing, make it.
    """

    name: str
    path: Path
    reason: str
    exists: bool
    writable: bool
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "reason": self.reason, "exists": self.exists,
                "writable": self.writable, "note": self.note}


#: The rows of ``drillbook paths``, in order: (name, Settings attribute).
SHOWN = (("config", "config_dir"), ("drills", "drills_dir"), ("runbooks", "runbooks_dir"),
         ("reports", "reports_dir"), ("state", "state_dir"), ("cache", "cache_dir"),
         ("sandbox root", "sandbox_root"))


def folders_in_use(settings: Settings) -> list[FolderInUse]:
    """Each folder ``settings`` names, the rule that chose it, and whether it exists and is writable."""
    rows = []
    for name, attr in SHOWN:
        path = getattr(settings, attr)
        if path is not None:
            rows.append(_row(name, path, settings.origins.get(attr, "given directly")))
        if attr == "drills_dir":
            project = settings.drills_dir / PROJECT_CONFIG
            rows.append(_row("project file", project, f"{PROJECT_CONFIG} in the drills folder"))
    if settings.config_dir is not None and (settings.config_dir / PROJECT_CONFIG).exists() \
            and settings.drills_dir != settings.config_dir:
        rows[0] = replace(rows[0], note=f"{PROJECT_CONFIG} here is not read: it belongs in the drills folder")
    return rows


def _row(name: str, path: Path, reason: str) -> FolderInUse:
    absolute = Path(os.path.abspath(path))
    exists = os.path.lexists(absolute)
    return FolderInUse(name, absolute, reason, exists, _may_write(absolute))


def _may_write(path: Path) -> bool:
    """May this account write ``path``, or make it: the nearest folder that exists decides."""
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return os.access(path, os.W_OK)


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
    a missing sandbox root or reports folder is left missing (``drillbook cleanup``).

    The state folder is 0700: it holds the signing key, the ledger lock, the job database and
    restic's cache, and no other account needs anything in it. Rootless, the sandboxes under it
    are entered by drillbook's own account; as root they are made elsewhere (the sandbox account
    must pass through every folder above its sandbox root), so a sandbox root inside the state
    folder is refused there rather than opening the state folder to that account.
    """
    as_root = os.geteuid() == 0
    if as_root:
        _refuse_sandboxes_in_state(settings)
    ensure_folder(Folder(settings.state_dir, "state", "--state or DRILLBOOK_STATE", STATE_MODE))
    _narrow_state_folder(settings.state_dir)
    ensure_folder(Folder(settings.sandbox_root, "sandbox root", "--sandbox-root or DRILLBOOK_SANDBOX_ROOT",
                         ROOT_SANDBOX_MODE if as_root else SANDBOX_MODE), create=create)
    ensure_folder(Folder(settings.reports_dir, "reports", "--reports or DRILLBOOK_REPORTS", REPORTS_MODE,
                         reports_group), create=create)


def _refuse_sandboxes_in_state(settings: Settings) -> None:
    state = Path(os.path.realpath(settings.state_dir))
    if Path(os.path.realpath(settings.sandbox_root)).is_relative_to(state):
        raise CannotRun(f"sandbox root folder {os.path.abspath(settings.sandbox_root)} is inside the state folder "
                        f"{os.path.abspath(settings.state_dir)}: as root, the sandbox account must pass through "
                        "every folder above its sandbox root, and the state folder (the signing key) is "
                        "drillbook's alone; choose a sandbox root outside it with --sandbox-root or "
                        f"DRILLBOOK_SANDBOX_ROOT (the default is {ROOT_SANDBOX_ROOT})")


def _narrow_state_folder(path: Path) -> None:
    """An existing state folder others may enter (made 0711 by an earlier drillbook, or by hand)
    is narrowed: that only shuts others out, so unlike a folder others may write it hides nothing."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(STATE_MODE)
        log.warning("state folder %s was open to other accounts (mode %04o): narrowed to %04o",
                    os.path.abspath(path), mode, STATE_MODE)
