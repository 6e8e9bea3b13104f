"""``files``: the restored folder holds enough files and every required one.

Paths are walked with :class:`~drillbook.util.restored.RestoredPath`: a restored symlink that
leads to the live host is reported, never counted; the folder is walked from its descriptor.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from drillbook.checks.base import CheckContext, default_name
from drillbook.drill.record import CheckResult
from drillbook.spec.models import FilesCheck
from drillbook.status import Status
from drillbook.util.restored import NotInRestore, RestoredFileError, RestoredPath


def check_files(spec: FilesCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    try:
        count = _count(RestoredPath(ctx.restore_root, spec.path))
    except RestoredFileError as exc:
        return CheckResult("files", name, Status.FAILED, str(exc))
    missing, problems = _required(spec, ctx)
    if count < spec.min_count:
        problems.append(f"{count} files under {spec.path}, expected at least {spec.min_count}")
    if missing:
        problems.append(f"required missing: {', '.join(missing[:10])}")
    data = {"count": count, "min_count": spec.min_count, "required": spec.required, "missing": missing}
    if problems:
        return CheckResult("files", name, Status.FAILED, "; ".join(problems), data=data)
    found = f"{count} files under {spec.path}"
    extra = f", all {len(spec.required)} required present" if spec.required else ""
    return CheckResult("files", name, Status.PASSED, f"{found} (>= {spec.min_count}){extra}", data=data)


def _count(folder: RestoredPath) -> int:
    """Files below the folder; symlinked folders inside it are listed, not descended into."""
    fd = folder.open_folder()
    try:
        return sum(len(names) for _, _, names, _ in os.fwalk(".", dir_fd=fd))
    finally:
        os.close(fd)


def _required(spec: FilesCheck, ctx: CheckContext) -> tuple[list[str], list[str]]:
    """The required paths that are missing, and problems with those that lead elsewhere."""
    missing: list[str] = []
    problems: list[str] = []
    for rel in spec.required:
        try:
            RestoredPath(ctx.restore_root, str(PurePosixPath(spec.path) / rel)).stat()
        except NotInRestore:
            missing.append(rel)
        except RestoredFileError as exc:
            problems.append(str(exc))
    return missing, problems
