"""Who runs restic's restore: the sandbox account whenever it can, drillbook's root only when not.

A restore writes what the backup chose (modes, owners, device nodes) onto this host. Run by the
unprivileged sandbox account, none of that takes effect: restic cannot give a file to another
account, make a device, or set a capability. So as root, drillbook restores as that account
whenever it can read the repository: a remote one needs no local file (its credentials travel in
restic's environment), a local one is tried as the account. Only a repository the account cannot
read, or one reached through drillbook's own ssh keys or rclone configuration, is restored as
root, and the record says so and why. Either way the tree is made safe before anything reads it.
An ordinary account is the sandbox account already and restores as itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drillbook.backends.repository import local_path
from drillbook.drill.listing import DEVICE_TYPES
from drillbook.sandbox.isolation import Account, Mode

#: Remote backends that restic reaches with files of drillbook's own account.
OWN_FILES = {"sftp:": "ssh keys and configuration", "rclone:": "rclone configuration"}

Unreadable = Callable[[Account, Path], str | None]


@dataclass(frozen=True)
class RestoreAs:
    """Who restic's restore runs as."""

    account: Account | None  # switched to by the restic door; None: drillbook itself
    name: str
    unprivileged: bool
    described: str
    reason: str | None = None

    @property
    def as_root(self) -> bool:
        return not self.unprivileged

    def record(self) -> dict[str, Any]:
        return {"restore_as": self.name, "account": self.described, "unprivileged": self.unprivileged,
                "reason": self.reason}


def choose(repository: str, account: Account, mode: Mode, unreadable: Unreadable) -> RestoreAs:
    """``repository`` as restic gets it; ``unreadable`` tries reading a local one as the account."""
    if mode is Mode.ROOTLESS:
        return RestoreAs(None, account.name, True, account.describe())
    scheme = next((prefix for prefix in OWN_FILES if repository.startswith(prefix)), None)
    if scheme:
        return _as_root(f"the sandbox account {account.describe()} cannot read drillbook's own "
                        f"{OWN_FILES[scheme]}, with which restic reaches {scheme} repositories")
    path = local_path(repository)
    problem = unreadable(account, path) if path is not None else None
    if problem:
        return _as_root(f"the sandbox account {account.describe()} cannot read the repository "
                        f"{path} ({problem})")
    return RestoreAs(account, account.name, True, account.describe())


def _as_root(reason: str) -> RestoreAs:
    return RestoreAs(None, "root", False, "root (uid 0)", reason)


def device_paths(nodes: Iterable[dict[str, Any]]) -> list[str]:
    """The snapshot's block and character devices: what an unprivileged restic cannot make."""
    return [node["path"] for node in nodes if node.get("type") in DEVICE_TYPES]
