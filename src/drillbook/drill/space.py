"""Room for the restore: what it will write, against what the sandbox root's filesystem has free.

A restore that fills the filesystem fails half-way after hours, and on a host whose sandbox root
shares a filesystem with anything else it takes that down with it. So the drill measures first and
fails before restoring when the room is not there, saying how much is needed and how much is free.

What the restore writes is measured by the sizes in the snapshot's listing (``restic ls``, read
for the content check anyway, see listing.py), which restic prints together with the tree it walks:
no second restic call (``restic stats`` would derive the key and walk every tree again). It is
never smaller than what restic writes, since it counts a hard-linked file once per name. When the
listing fails, the restore is not started: nothing tells how much it would write, and the content
check could not pass either. Free space is what an unprivileged account may
use (``f_bavail``): the sandbox account restores, and root's reserved blocks are not for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drillbook.drill.listing import Listing

MIB = 1024 * 1024
#: Room kept beyond the restore's size: a tenth for folders, block rounding and restic's own files,
#: and a fixed amount so that a small restore does not leave the filesystem full either.
MARGIN_DIVISOR = 10
MARGIN_BYTES = 64 * MIB
LISTING = "restic ls (the sizes of the snapshot's files)"
UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


@dataclass(frozen=True)
class Measured:
    """How much the restore writes, how that was measured, and why not by stats when it was not."""

    size_bytes: int
    file_count: int
    measured_by: str
    problem: str | None = None

    def record(self) -> dict[str, Any]:
        return {"size_bytes": self.size_bytes, "file_count": self.file_count,
                "size_measured_by": self.measured_by, "size_problem": self.problem}


def from_listing(listing: Listing) -> Measured:
    """The count is of every node, files, folders and links, as restic stats counts them."""
    return Measured(listing.size_bytes, listing.node_count, LISTING)


def unmeasured(listing_problem: str) -> str:
    return ("cannot tell how much room the restore needs, so it was not started: listing the "
            f"snapshot failed ({listing_problem})")


def needed_bytes(size: int) -> int:
    return size + size // MARGIN_DIVISOR + MARGIN_BYTES


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged account may still write on the filesystem holding ``path``."""
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


@dataclass(frozen=True)
class Room:
    """The restore's size against the free space of the filesystem it goes to."""

    measured: Measured
    free_bytes: int
    where: Path

    @property
    def needed_bytes(self) -> int:
        return needed_bytes(self.measured.size_bytes)

    def problem(self) -> str | None:
        if self.needed_bytes <= self.free_bytes:
            return None
        return (f"restore needs {shown(self.needed_bytes)} ({shown(self.measured.size_bytes)} restored, "
                f"plus 10% and {MARGIN_BYTES // MIB} MiB to spare), {shown(self.free_bytes)} free on "
                f"{self.where}: free space there, or choose another sandbox root "
                "(--sandbox-root or DRILLBOOK_SANDBOX_ROOT)")

    def record(self) -> dict[str, Any]:
        return {**self.measured.record(), "free_bytes": self.free_bytes,
                "needed_bytes": self.needed_bytes, "free_on": str(self.where)}


def shown(count: float) -> str:
    """Bytes in the binary unit a person reads: 512 bytes, 1.5 KiB, 12.3 GiB."""
    if count < 1024:
        return f"{count:.0f} bytes"
    for unit in UNITS:
        count /= 1024
        if count < 1024 or unit == UNITS[-1]:
            break
    return f"{count:.1f} {unit}"
