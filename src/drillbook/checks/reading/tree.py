"""Comparing the restored tree with the snapshot's listing, for the always-on content check.

Run inside the sandbox like every reader (see the package docstring): the restore is walked
once, from descriptors, never following a restored symlink, and each node of ``restic ls`` is
looked up in that walk. Device nodes, FIFOs and sockets in a snapshot are no broken backup: they
are listed under ``special_files`` and never counted missing.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from drillbook.util.dirfd import walk
from drillbook.util.restored import shown

MAX_LISTED = 20
SPECIAL_NAMED = 5
SPECIAL_TYPES = {"chardev": "character device", "dev": "block device", "fifo": "FIFO", "socket": "socket"}


def tree_answer(request: dict[str, Any]) -> dict[str, Any]:
    """``listing``: a file of drillbook's own with one ``[path, type, size]`` line per node, as
    :func:`listing_line` packs it, read line by line; or ``input``: those triples themselves."""
    if "listing" in request:
        with open(request["listing"], encoding="utf-8") as lines:
            return compare_tree(_nodes(json.loads(line) for line in lines), Path(request["root"]))
    return compare_tree(_nodes(request["input"]), Path(request["root"]))


def _nodes(triples: Iterable[list[Any]]) -> Iterator[dict[str, Any]]:
    return ({"path": path, "type": kind, "size": size} for path, kind, size in triples)


def listing_input(nodes: Iterable[dict[str, Any]]) -> list[list[Any]]:
    """The listing, only what the comparison needs (a snapshot may hold millions of nodes)."""
    return [[node["path"], node.get("type"), node.get("size")] for node in nodes]


def listing_line(node: dict[str, Any]) -> str:
    """One node of the listing as a line of the file :func:`tree_answer` reads."""
    return json.dumps([node["path"], node.get("type"), node.get("size")]) + "\n"


def compare_tree(nodes: Iterable[dict[str, Any]], restore_root: Path) -> dict[str, Any]:
    """Every file, dir and link the snapshot lists exists here, as that kind; every file has its size."""
    present = _walk(restore_root)
    files = dirs = links = 0
    bytes_expected = bytes_present = 0
    missing: list[str] = []
    wrong_size: list[str] = []
    special = _SpecialFiles()
    for node in nodes:
        kind = node.get("type")
        rel = node["path"].lstrip("/")
        found = present.get(rel)
        if kind in SPECIAL_TYPES:
            special.add(rel, SPECIAL_TYPES[kind])
        elif kind == "file":
            files += 1
            size = int(node.get("size") or 0)
            bytes_expected += size
            if found is None:
                missing.append(shown(rel))
                continue
            bytes_present += found[1]
            if found[1] != size:
                wrong_size.append(f"{shown(rel)} ({found[1]} bytes, snapshot has {size})")
        elif kind == "dir":
            dirs += 1
            if found is None or not stat.S_ISDIR(found[0]):
                missing.append(shown(rel) + "/")
        elif kind == "symlink":
            links += 1
            if found is None or not stat.S_ISLNK(found[0]):
                missing.append(shown(rel))
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


def _walk(root: Path) -> dict[str, tuple[int, int]]:
    """Every entry below ``root`` by relative path: its file type bits and its own size (lstat)."""
    return {f"{folder}/{name}" if folder else name: (stat.S_IFMT(info.st_mode), info.st_size)
            for folder, name, info in walk(root)}


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
