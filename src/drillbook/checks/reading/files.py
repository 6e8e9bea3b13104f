"""Counting a restored folder's files and finding the required ones, for the ``files`` check."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from drillbook.util.dirfd import walk
from drillbook.util.restored import NotInRestore, RestoredFileError, RestoredPath


def files_answer(request: dict[str, Any]) -> dict[str, Any]:
    """``count`` of files below ``path``, the ``missing`` required paths, and ``problems``.

    A folder that cannot be walked answers ``error`` alone: there is nothing to count.
    """
    root, path = Path(request["root"]), str(request["path"])
    try:
        count = count_files(RestoredPath(root, path))
    except RestoredFileError as exc:
        return {"error": str(exc)}
    missing, problems = required_status(root, path, [str(r) for r in request["required"]])
    return {"count": count, "missing": missing, "problems": problems}


def count_files(folder: RestoredPath) -> int:
    """Entries below the folder that are not folders; symlinked folders are counted, not entered."""
    fd = folder.open_folder()
    try:
        return sum(not stat.S_ISDIR(info.st_mode) for _, _, info in walk(fd))
    finally:
        os.close(fd)


def required_status(root: Path, path: str, required: list[str]) -> tuple[list[str], list[str]]:
    """The required paths that are missing, and problems with those that lead elsewhere."""
    missing: list[str] = []
    problems: list[str] = []
    for rel in required:
        try:
            RestoredPath(root, str(PurePosixPath(path) / rel)).stat()
        except NotInRestore:
            missing.append(rel)
        except RestoredFileError as exc:
            problems.append(str(exc))
    return missing, problems
