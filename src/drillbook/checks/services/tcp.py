"""``tcp``: start a service from the restore, wait until its port accepts, optionally converse."""

from __future__ import annotations

import base64
from typing import Any

from drillbook.checks.base import CheckContext, default_name
from drillbook.checks.services.lifecycle import ServiceFailed, running_service, service_env, wait_until_ready
from drillbook.checks.services.probe import TCP_PROBE, run_probe
from drillbook.drill.record import CheckResult
from drillbook.spec.models import TcpCheck
from drillbook.status import Status

READ_TIMEOUT = 5.0


def check_tcp(spec: TcpCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    env = service_env(ctx, spec.env)
    target = f"{spec.host}:{spec.port}"
    data: dict[str, Any] = {"target": target, "start": spec.start}

    def probe(window: float) -> dict[str, Any]:
        params = {"host": spec.host, "port": spec.port, "window": window, "send": spec.send,
                  "expect": spec.expect, "read_timeout": READ_TIMEOUT}
        return run_probe(ctx.launcher, TCP_PROBE, params, cwd=ctx.work_dir, env=env)

    try:
        with running_service(spec.start, ctx, env) as service:
            ready = wait_until_ready(service, probe, float(spec.ready_timeout),
                                     lambda a: bool(a.get("answered")), target)
    except ServiceFailed as exc:
        data["service_output_tail"] = exc.output
        return CheckResult("tcp", name, Status.FAILED, exc.reason, data=data)
    received = base64.b64decode(ready.answer.get("body", "")).decode("utf-8", errors="replace")
    data.update({"latency_ms": round(ready.answer.get("latency", 0.0) * 1000, 1),
                 "ready_seconds": ready.ready_seconds, "received_head": received[:200]})
    if spec.expect is not None and spec.expect not in received:
        return CheckResult("tcp", name, Status.FAILED, f"{target} accepted, but the reply does not contain "
                           f"{spec.expect!r} (got {received[:60]!r})", data=data)
    said = f", replied with {spec.expect!r}" if spec.expect is not None else ""
    return CheckResult("tcp", name, Status.PASSED, f"{target} accepted after {ready.ready_seconds} s"
                       f"{said}", data=data)
