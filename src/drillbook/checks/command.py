"""``command``: a program of the team's own, run in the restore root; exit 0 passes."""

from __future__ import annotations

from drillbook.checks.base import CheckContext, default_name
from drillbook.drill.record import CheckResult
from drillbook.spec.models import CommandCheck
from drillbook.status import Status
from drillbook.util.durations import format_duration
from drillbook.util.process import tail
from drillbook.util.scrub import scrub


def check_command(spec: CommandCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    env = {**ctx.env, **spec.env, "DRILLBOOK_RESTORE_ROOT": str(ctx.restore_root)}
    try:
        done = ctx.launcher.run(list(spec.run), cwd=ctx.restore_root, env=env, timeout=float(spec.timeout))
    except FileNotFoundError:
        return CheckResult("command", name, Status.FAILED, f"{spec.run[0]}: program not found")
    output = scrub("\n".join(filter(None, [done.stdout, done.stderr])), ctx.secrets)
    lines = tail(output, 15)
    data = {"argv": list(spec.run), "exit_code": done.returncode, "output_tail": lines}
    if done.timed_out:
        detail = f"timed out after {format_duration(float(spec.timeout))}; process group killed"
        return CheckResult("command", name, Status.FAILED, detail, data=data)
    if done.returncode != 0:
        last = lines[-1] if lines else "no output"
        return CheckResult("command", name, Status.FAILED, f"exit {done.returncode}: {last}", data=data)
    return CheckResult("command", name, Status.PASSED, "exit 0", data=data)

