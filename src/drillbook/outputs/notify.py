"""Tell people how a run ended: webhook, SNS or a local command, per the drill's ``notify:``.

Rules:
- targets are the drill's own ``notify:`` plus the project-wide ones of ``drillbook.yaml`` (a drill
  can add channels, it cannot silently drop the operations team's); a runbook declares none of its
  own, so its runs go to the project-wide targets;
- events: ``failure`` (any run that did not pass), ``success``, ``recovery`` (passed after a run
  that did not), ``always``;
- a ``command`` target comes from ``drillbook.yaml`` only (the spec refuses one in a drill file)
  and runs outside any sandbox, so it gets PATH, LANG, TZ and HOME and nothing else of drillbook's
  environment;
- every target gets an entry in the run record: sent, failed (with why) or skipped (with why);
  a notification problem is logged and recorded, it never changes the drill's status;
- a webhook is POSTed by :mod:`drillbook.outputs.webhook` (retries, no redirects);
- each target gets the body of its own ``format:`` (json, slack, teams) or ``template:``
  (:mod:`drillbook.outputs.formats`); a body that cannot be made fails that target only;
- webhook URLs often carry tokens, short or long, in the path, the query or the userinfo: what is
  recorded, reported or logged shows scheme, host and port only, every other part as ``***``.
"""

from __future__ import annotations

import logging
import os
import pwd
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from drillbook.backends import aws
from drillbook.outputs import faults
from drillbook.outputs.faults import Fault
from drillbook.outputs.formats import BodyError, render
from drillbook.outputs.runstore import RunKind, load_runs, run_dir
from drillbook.outputs.webhook import post_webhook
from drillbook.spec.models import NotifyTarget
from drillbook.status import FINISHED, Status
from drillbook.util.process import run_bounded
from drillbook.util.scrub import mask_url, scrub, url_secrets

log = logging.getLogger("drillbook.outputs.notify")


class Delivery(StrEnum):
    """What became of one notification (not of the run it is about)."""

    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


# -- what to send, to whom -------------------------------------------------------------------
def targets_for(drill: Any, project: Any) -> list[NotifyTarget]:
    """The drill's targets, then the project's defaults; the same target is used once."""
    seen: set[str] = set()
    out = []
    for target in [*(getattr(drill, "notify", None) or []), *(getattr(project, "notify", None) or [])]:
        key = target.model_dump_json()
        if key not in seen:
            seen.add(key)
            out.append(target)
    return out


def events_for(status: str, previous_status: str | None) -> set[str]:
    """Which ``on:`` values this outcome satisfies."""
    events = {"always"}
    if status == Status.PASSED:
        events.add("success")
        if previous_status is not None and previous_status != Status.PASSED:
            events.add("recovery")
    else:
        events.add("failure")
    return events


def run_name(record: dict[str, Any]) -> str:
    """The drill's or the runbook's name: a runbook record names itself under ``runbook``."""
    return str(record.get("drill") or record.get("runbook") or "?")


def run_kind(record: dict[str, Any]) -> str:
    return str(record.get("kind", RunKind.DRILL))


def previous_status(reports: Path, record: dict[str, Any]) -> str | None:
    """Status of the run of the same drill finished before this one (None for a first run)."""
    for run in load_runs(reports):
        if (run_name(run) == run_name(record) and run_kind(run) == run_kind(record)
                and run.get("run_id") != record["run_id"] and run.get("status") in FINISHED
                and (run.get("started_at") or "") <= record["started_at"]):
            return str(run["status"])
    return None


def payload(record: dict[str, Any], report: Path | None, event: str) -> dict[str, Any]:
    """The JSON every target receives: enough to act on without opening the report."""
    objectives = {  # a runbook without an RTO records ``"rto": null``
        key: None if o is None else {k: o.get(k) for k in ("measured_seconds", "target_seconds", "target", "met")}
        for key, o in (record.get("objectives") or {}).items()
    }
    return {
        "drill": run_name(record),
        "kind": run_kind(record),
        "event": event,
        "status": record["status"],
        "reason": record.get("reason"),
        "run_id": record["run_id"],
        "trigger": record.get("trigger"),
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "objectives": objectives,
        "owner": record.get("owner"),
        "host": (record.get("versions") or {}).get("host"),
        "report": str(report) if report else None,
    }


def notify_run(record: dict[str, Any], drill: Any, settings: Any, project: Any = None) -> list[dict[str, Any]]:
    """Send every due notification of a finished run; returns the record's ``notifications``."""
    targets = targets_for(drill, project)
    if not targets:
        return []
    previous = previous_status(settings.reports_dir, record)
    events = events_for(record["status"], previous)
    event = next(e for e in ("recovery", "failure", "success", "always") if e in events)
    name = run_name(record)
    report = (run_dir(settings.reports_dir, name, record["run_id"], run_kind(record))
              / "report.html").absolute()
    facts = payload(record, report, event)
    folder = getattr(settings, "drills_dir", None)
    results = []
    for target in targets:
        entry = {"target": describe_target(target), "on": list(target.on)}
        wanted = sorted(events & set(target.on))
        if not wanted:
            entry.update(status=Delivery.SKIPPED, detail=f"on: {', '.join(target.on)}; this run {record['status']}"
                         + (" (first run)" if previous is None and record["status"] == Status.PASSED else ""))
        else:
            entry.update(deliver_facts(target, facts, folder, subject=f"drillbook: {name} {record['status']}"))
            entry["event"] = event
            if entry["status"] == Delivery.FAILED:
                log.warning("notification to %s failed: %s", entry["target"], entry["detail"])
                faults.failed(Fault.NOTIFICATION, describe_target(target), name)
        results.append(entry)
    return results


# -- delivery --------------------------------------------------------------------------------
def body_for(target: NotifyTarget, facts: dict[str, Any], folder: Path | None) -> str:
    """The body ``target`` gets (its format or template); raises BodyError."""
    return render(target, facts, folder)


def deliver_facts(target: NotifyTarget, facts: dict[str, Any], folder: Path | None,
                  subject: str = "drillbook") -> dict[str, Any]:
    """:func:`deliver` the body of the target's format; a body that cannot be made is a failure."""
    try:
        body = body_for(target, facts, folder)
    except BodyError as exc:
        return {"status": Delivery.FAILED, "detail": str(exc), "duration_seconds": 0.0}
    return deliver(target, body, subject=subject)


def deliver(target: NotifyTarget, body: str, subject: str = "drillbook") -> dict[str, Any]:
    """One target; never raises: the result says sent or failed and why (secrets masked)."""
    started = time.monotonic()
    try:
        if target.webhook:
            status, detail = post_webhook(target.webhook, body, float(target.timeout))
        elif target.sns:
            status, detail = publish_sns(target.sns, body, subject)
        else:
            status, detail = run_command(target.command or [], body, float(target.timeout))
    except Exception as exc:  # a bug in delivery must be recorded, never crash the run
        status, detail = Delivery.FAILED, f"{type(exc).__name__}: {exc}"
    if target.webhook:
        detail = redact(detail, target.webhook)
    return {"status": status, "detail": detail, "duration_seconds": round(time.monotonic() - started, 3)}


def publish_sns(topic_arn: str, body: str, subject: str) -> tuple[str, str]:
    try:
        message_id = aws.publish_sns(topic_arn, body, subject=subject)
    except aws.AwsError as exc:
        return Delivery.FAILED, str(exc)
    return Delivery.SENT, f"message {message_id}"


def run_command(argv: list[str], body: str, timeout: float) -> tuple[str, str]:
    """The JSON on stdin; exit 0 is sent. See :func:`command_env` for what else it gets."""
    try:
        done = run_bounded(argv, env=command_env(), timeout=timeout, stdin_data=body)
    except OSError as exc:
        return Delivery.FAILED, f"cannot start {argv[0]}: {exc.strerror or exc}"
    if done.timed_out:
        return Delivery.FAILED, f"{argv[0]} did not finish within {timeout:g}s (killed)"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1][:200]
        return Delivery.FAILED, f"{argv[0]} exited with {done.returncode}" + (f": {last}" if last else "")
    return Delivery.SENT, f"{argv[0]} exited 0"


def command_env() -> dict[str, str]:
    """PATH, LANG and TZ as drillbook has them, and the HOME of drillbook's account; nothing else.

    The command runs outside any sandbox, and drillbook's environment holds what it must never
    pass on: repository passwords, AWS keys, secret-named variables, its own settings.
    """
    env = {name: os.environ[name] for name in ("LANG", "TZ") if name in os.environ}
    env["PATH"] = os.environ.get("PATH") or os.defpath
    env["HOME"] = account_home()
    return env


def account_home() -> str:
    """From the password database: $HOME is only what drillbook was started with."""
    try:
        return pwd.getpwuid(os.getuid()).pw_dir or "/"
    except KeyError:
        return "/"


# -- redaction -------------------------------------------------------------------------------
def describe_target(target: NotifyTarget) -> str:
    if target.webhook:
        return f"webhook {mask_url(target.webhook)}"
    if target.sns:
        return f"sns {target.sns}"
    return "command " + " ".join(target.command or [])


def redact(text: str, url: str) -> str:
    """Remove every secret piece of ``url`` from ``text`` (error messages may quote the URL)."""
    return scrub(text.replace(url, mask_url(url)), url_secrets(url))
