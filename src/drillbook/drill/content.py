"""The always-on content check: the restore is complete and byte-correct against the snapshot.

The reference is the snapshot's own listing (``restic ls``) and the repository's hashes
(``restore --verify`` re-reads every restored file and compares each blob's SHA-256), never
the live source, which has changed since the backup and would raise false alarms.

Device nodes, FIFOs and sockets in a snapshot are no broken backup: they are listed under
``special_files`` and never counted missing. A device is never left in the restore (an unprivileged
restic cannot make one; after a root restore it is removed), FIFOs stay, and restic restores no
socket at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drillbook.status import Status
from drillbook.util.restored import shown

MAX_LISTED = 20
SPECIAL_NAMED = 5
SPECIAL_TYPES = {"chardev": "character device", "dev": "block device", "fifo": "FIFO", "socket": "socket"}


def compare_tree(nodes: Iterable[dict[str, Any]], restore_root: Path) -> dict[str, Any]:
    """Every file, dir and link the snapshot lists exists here; every file has its size."""
    files = dirs = links = 0
    bytes_expected = bytes_present = 0
    missing: list[str] = []
    wrong_size: list[str] = []
    special = _SpecialFiles()
    root = str(restore_root)
    for node in nodes:
        kind = node.get("type")
        rel = node["path"].lstrip("/")
        target = os.path.join(root, rel)
        if kind in SPECIAL_TYPES:
            special.add(rel, SPECIAL_TYPES[kind])
        elif kind == "file":
            files += 1
            size = int(node.get("size") or 0)
            bytes_expected += size
            try:
                actual = os.lstat(target).st_size
            except OSError:
                missing.append(rel)
                continue
            bytes_present += actual
            if actual != size:
                wrong_size.append(f"{rel} ({actual} bytes, snapshot has {size})")
        elif kind == "dir":
            dirs += 1
            if not os.path.isdir(target):
                missing.append(rel + "/")
        elif kind == "symlink":
            links += 1
            if not os.path.islink(target):
                missing.append(rel)
    return {
        "files_expected": files,
        "dirs_expected": dirs,
        "symlinks_expected": links,
        "bytes_expected": bytes_expected,
        "bytes_present": bytes_present,
        "missing_count": len(missing),
        "missing": missing[:MAX_LISTED],
        "wrong_size_count": len(wrong_size),
        "wrong_size": wrong_size[:MAX_LISTED],
        "special_files": special.summary(),
    }


class _SpecialFiles:
    """Devices, FIFOs and sockets of the snapshot: counted by type, the first few named."""

    def __init__(self) -> None:
        self.count = 0
        self.by_type: dict[str, int] = {}
        self.examples: list[dict[str, str]] = []

    def add(self, rel: str, kind: str) -> None:
        self.count += 1
        self.by_type[kind] = self.by_type.get(kind, 0) + 1
        if len(self.examples) < SPECIAL_NAMED:
            self.examples.append({"path": shown(rel), "type": kind})

    def summary(self) -> dict[str, Any]:
        return {"count": self.count, "by_type": self.by_type, "examples": self.examples}



METHOD = ("restic restore --verify (every restored file re-read and each blob's SHA-256 compared "
          "with the repository) + presence and size of every node of restic ls against the restored tree")


def verify_restore(nodes: Iterable[dict[str, Any]], restore_root: Path, snapshot_id: str,
                   short_id: str) -> tuple[dict[str, Any], str | None]:
    """The record's ``content`` section, and why the restore is not a recovery (None when it is)."""
    content = compare_tree(nodes, restore_root)
    content.update({
        "method": METHOD,
        "reference": f"snapshot {snapshot_id}",
        "files_verified": content["files_expected"] - content["missing_count"],
        "bytes_verified": content["bytes_present"],
    })
    problem = _problem(content, short_id)
    content["status"] = Status.FAILED if problem else Status.PASSED
    return content, problem


def _problem(content: dict[str, Any], short_id: str) -> str | None:
    parts = []
    if content["missing_count"]:
        parts.append(f"{content['missing_count']} missing (first: {content['missing'][0]})")
    if content["wrong_size_count"]:
        parts.append(f"{content['wrong_size_count']} with wrong size (first: {content['wrong_size'][0]})")
    if parts:
        return "restored tree is incomplete: " + "; ".join(parts)
    if not content["files_expected"]:  # e.g. a backup of an unmounted volume: nothing to recover
        return (f"snapshot {short_id} holds no files: nothing was recovered (was the source empty "
                "or unmounted when it was taken?)")
    return None
