"""``files``: the restored folder holds enough files and every required one.

The folder is walked inside the sandbox by the reader (checks/reading/files.py): a restored
symlink that leads to the live host is reported, never counted.
"""

from __future__ import annotations

from drillbook.checks.base import CheckContext, answer_list, default_name, read_restore
from drillbook.drill.record import CheckResult
from drillbook.sandbox.inside import ReaderFailed
from drillbook.spec.models import FilesCheck
from drillbook.status import Status

#: A walk of millions of files takes minutes; one that takes longer is stuck.
WALK_TIMEOUT = 3600.0


def check_files(spec: FilesCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    answer = read_restore(ctx, "files", WALK_TIMEOUT, path=spec.path, required=list(spec.required))
    if "error" in answer:
        return CheckResult("files", name, Status.FAILED, str(answer["error"]))
    count = answer.get("count")
    if not isinstance(count, int):
        raise ReaderFailed("the reader inside the sandbox answered no file count")
    missing, problems = answer_list(answer, "missing"), answer_list(answer, "problems")
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
