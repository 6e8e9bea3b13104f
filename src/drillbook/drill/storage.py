"""Where a drill's restore is written: a size-capped tmpfs in the sandbox, or the disk.

Restored data is patient data; written to a tmpfs that exists only in the sandbox's own mount
namespace (see sandbox/isolation.holder_argv), it never reaches a disk through the filesystem, and
teardown is the namespace's end, which unmounts it. That holds only when the kernel does not
swap the tmpfs's pages out: the record says whether the host has swap on.

Whether the restore fits is decided from the snapshot's listing (the sum of its file sizes):
each file's last page is counted whole, as tmpfs charges it, so a thousand one-byte files may
need about 4 MB, not 1 KB. A restore that does not fit, or one restic runs as root for (root's files could
not be written into the account's tmpfs, whose owner namespace maps no uid 0), goes to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drillbook.drill.space import shown

PAGE = 4096
SWAPS = "/proc/swaps"


@dataclass(frozen=True)
class Storage:
    """What the restore was written to, and why not the tmpfs when one was asked for."""

    tmpfs_bytes: int | None  # the tmpfs's cap; None: the disk
    reason: str | None = None  # why the disk, when the drill asked for memory
    swap: bool = False

    @property
    def shown(self) -> str:
        return f"tmpfs, {shown(self.tmpfs_bytes)} cap" if self.tmpfs_bytes is not None else "disk"

    def record(self) -> dict[str, Any]:
        return {"kind": "tmpfs" if self.tmpfs_bytes is not None else "disk", "shown": self.shown,
                "cap_bytes": self.tmpfs_bytes, "reason": self.reason,
                "swap_on": self.swap if self.tmpfs_bytes is not None else None}


def tmpfs_needs(size_bytes: int, file_count: int) -> int:
    """What tmpfs charges at most for the restore: the sizes, plus one page per node."""
    return size_bytes + PAGE * file_count


def decide(cap: int | None, size_bytes: int, file_count: int, as_root: bool) -> Storage:
    """The tmpfs when the drill asked for one of ``cap`` bytes and the restore fits it."""
    if cap is None:
        return Storage(None)
    if as_root:
        return Storage(None, f"restic restores as root, whose files cannot be written into the sandbox "
                             f"account's tmpfs; restored to disk instead of the {shown(cap)} tmpfs")
    needed = tmpfs_needs(size_bytes, file_count)
    if needed > cap:
        return Storage(None, f"the restore needs up to {shown(needed)} in memory ({shown(size_bytes)} in "
                             f"{file_count} files and folders), more than the {shown(cap)} of "
                             "isolation.restore_in_memory; restored to disk")
    return Storage(cap, swap=swap_on())


def swap_on() -> bool:
    """Whether the host has swap: tmpfs pages may then be written to it under memory pressure."""
    try:
        with open(SWAPS, encoding="ascii", errors="replace") as swaps:
            return len(swaps.read().splitlines()) > 1  # a header line, then one per swap area
    except OSError:
        return False
