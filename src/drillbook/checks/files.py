"""``files``: the restored folder holds enough files and every required one."""

from __future__ import annotations

import os

from drillbook.checks.base import CheckContext, default_name, outside_restore
from drillbook.drill.record import CheckResult
from drillbook.spec.models import FilesCheck
from drillbook.status import Status


def check_files(spec: FilesCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    base = ctx.restore_root / spec.path
    if escape := outside_restore(ctx.restore_root, base):
        return CheckResult("files", name, Status.FAILED, escape)
    if not base.is_dir():
        return CheckResult("files", name, Status.FAILED, f"{spec.path} is not in the restore")
    count = sum(len(names) for _, _, names in os.walk(base))
    missing = [r for r in spec.required if not (base / r).exists()]
    problems = [e for r in spec.required if (e := outside_restore(ctx.restore_root, base / r))]
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
