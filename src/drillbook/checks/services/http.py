"""``http``: start a service from the restore, wait until it answers, check status and body."""

from __future__ import annotations

import base64
import re
from typing import Any

from drillbook.checks.base import CheckContext, default_name
from drillbook.checks.services.lifecycle import ServiceFailed, running_service, service_env, wait_until_ready
from drillbook.checks.services.probe import HTTP_PROBE, MAX_BODY, run_probe
from drillbook.drill.record import CheckResult
from drillbook.spec.models import HttpCheck
from drillbook.status import Status

BODY_HEAD = 200


def check_http(spec: HttpCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    env = service_env(ctx, spec.env)
    data: dict[str, Any] = {"url": spec.url, "start": spec.start, "expect_status": spec.expect_status}

    def probe(window: float) -> dict[str, Any]:
        params = {"url": spec.url, "expect_status": spec.expect_status, "window": window,
                  "max_body": MAX_BODY}
        return run_probe(ctx.launcher, HTTP_PROBE, params, cwd=ctx.work_dir, env=env)

    try:
        with running_service(spec.start, ctx, env) as service:
            ready = wait_until_ready(service, probe, float(spec.ready_timeout),
                                     lambda a: a.get("status") == spec.expect_status, spec.url)
    except ServiceFailed as exc:
        data["service_output_tail"] = exc.output
        return CheckResult("http", name, Status.FAILED, exc.reason, data=data)
    body = base64.b64decode(ready.answer.get("body", ""))
    text = body.decode("utf-8", errors="replace")
    data.update({
        "status": ready.answer.get("status"),
        "latency_ms": round(ready.answer.get("latency", 0.0) * 1000, 1),
        "ready_seconds": ready.ready_seconds,
        "body_head": text[:BODY_HEAD],
        "body_bytes": len(body),
    })
    problems = _problems(spec, ready.answer.get("status"), text)
    if problems:
        data["service_output_tail"] = ready.output
        return CheckResult("http", name, Status.FAILED, "; ".join(problems), data=data)
    return CheckResult("http", name, Status.PASSED,
                       f"{spec.url} answered {data['status']} in {data['latency_ms']} ms "
                       f"(ready after {data['ready_seconds']} s)", data=data)


def _problems(spec: HttpCheck, status: int | None, text: str) -> list[str]:
    problems = []
    if status != spec.expect_status:
        problems.append(f"status {status}, expected {spec.expect_status}")
    if spec.expect_body is not None and spec.expect_body not in text:
        problems.append(f"body does not contain {spec.expect_body!r} "
                        f"(starts with {text[:60]!r})")
    if spec.expect_regex is not None and not re.search(spec.expect_regex, text):
        problems.append(f"body does not match /{spec.expect_regex}/")
    return problems
