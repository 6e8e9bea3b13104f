"""The snapshot's listing (``restic ls``), read once as restic prints it and never held whole.

One pass over the listing serves three readers: the room check (the sizes of the snapshot's
files, see space.py), the content check (each node's path, type and size, written to a file in
drillbook's own folder of the sandbox, which the reader inside the sandbox compares with the
restored tree), and the devices an unprivileged restic cannot make. A snapshot of millions of
nodes then costs drillbook a few counters, not a list of millions of dicts.

The listing is started with restic's own selection (``latest`` and its filters) before drillbook's
choice from the snapshot list is known; the snapshot restic chose is kept, so the two can be
compared: a restore is only of the snapshot both agree on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.checks.reading.tree import listing_line

DEVICE_TYPES = ("chardev", "dev")  # restic's node types of block and character devices

FILE_NAME = "listing.jsonl"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_BUFFER = 1 << 20


@dataclass
class Listing:
    """What one pass over ``restic ls`` leaves: counts, the chosen snapshot, the devices, a file."""

    path: Path
    snapshot_id: str | None = None
    size_bytes: int = 0
    node_count: int = 0  # every node, as ``restic stats --mode restore-size`` counts files
    devices: list[str] = field(default_factory=list)

    def add(self, node: dict[str, Any]) -> str | None:
        """Count one node; the line for the file, or None for the snapshot's own entry."""
        if node.get("struct_type") == "snapshot":
            self.snapshot_id = str(node.get("id"))
            return None
        self.node_count += 1
        if node.get("type") == "file":
            self.size_bytes += int(node.get("size") or 0)
        elif node.get("type") in DEVICE_TYPES:
            self.devices.append(node["path"])
        return listing_line(node)

    def nodes(self) -> Iterator[dict[str, Any]]:
        """The listed nodes again, read back from the file one at a time (path, type, size)."""
        with open(os.open(self.path, _READ), encoding="utf-8") as lines:
            for line in lines:
                path, kind, size = json.loads(line)
                yield {"path": path, "type": kind, "size": size}


def read_listing(nodes: Iterable[dict[str, Any]], own_dir: Path) -> Listing:
    """Pass ``nodes`` once, writing the comparison's file in ``own_dir`` (drillbook's, which the
    sandbox account may read but not change); a file already there is an error, never reused."""
    listing = Listing(own_dir / FILE_NAME)
    fd = os.open(listing.path, _CREATE, 0o644)
    with open(fd, "w", encoding="utf-8", buffering=_BUFFER) as out:
        for node in nodes:
            line = listing.add(node)
            if line is not None:
                out.write(line)
    return listing
