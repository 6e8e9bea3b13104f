"""Healthchecks-style pings: a dead-man's switch for drills, the way healthchecks.io, borgmatic
and resticprofile do it.

Rules:
- a drill's ``ping:`` and the project's ``ping:`` (drillbook.yaml) are both pinged, each once: a
  drill can add a check of its own, it cannot drop the operations team's;
- ``URL/start`` when a run starts (after its lock is taken, before the RTO clock starts), ``URL``
  when it passed, ``URL/fail`` when it failed or was aborted (a run reaped after its drillbook
  died is pinged ``/fail`` when it is cleaned up); the suffix goes before any query string;
- each ping is a POST whose body is one short plain-text summary (healthchecks.io shows it);
- a ping has a short timeout (``PING_TIMEOUT``) and ``PING_ATTEMPTS`` attempts: a monitoring
  service that is down must not hold a recovery drill up; a failed ping is logged and recorded
  in the run's ``notifications``, it never changes the run's status;
- ping URLs carry their key in the path: what is recorded or logged is masked like a webhook's.

Only drill runs are pinged: a runbook run is a person working through a procedure, not a job that
a missing ping should page about.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from drillbook.outputs.webhook import post_webhook
from drillbook.status import Status
from drillbook.util.plain import strip_controls
from drillbook.util.scrub import mask_url, scrub, url_secrets

log = logging.getLogger("drillbook.outputs.ping")

PING_TIMEOUT = 5.0  # seconds per attempt
PING_ATTEMPTS = 2
MESSAGE_MAX = 10_000  # healthchecks.io keeps up to 100 kB of a ping's body; a summary needs less


class PingEvent(StrEnum):
    START = "start"
    SUCCESS = "success"
    FAIL = "fail"


SUFFIX = {PingEvent.START: "/start", PingEvent.SUCCESS: "", PingEvent.FAIL: "/fail"}


def urls(drill: Any, project: Any) -> list[str]:
    """The drill's ping URL, then the project's; the same URL once."""
    found = [getattr(drill, "ping", None), getattr(project, "ping", None)]
    return list(dict.fromkeys(url for url in found if url))


def url_for(base: str, event: PingEvent) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + SUFFIX[event]))


def event_of(status: str) -> PingEvent:
    return PingEvent.SUCCESS if status == Status.PASSED else PingEvent.FAIL


def start_message(name: str, run_id: str, trigger: str) -> str:
    return f"drillbook: drill {name} started (run {run_id}, trigger {trigger})"


def finish_message(record: dict[str, Any]) -> str:
    reason = record.get("reason")
    return (f"drillbook: drill {record.get('drill')} {record.get('status')}" + (f": {reason}" if reason else "")
            + f"\nrun {record.get('run_id')}")


def send(bases: list[str], event: PingEvent, message: str) -> list[dict[str, Any]]:
    """Ping every URL for ``event``; one record entry each (never raises)."""
    text = strip_controls(message)[:MESSAGE_MAX]
    return [one(base, event, text) for base in bases]


def one(base: str, event: PingEvent, text: str) -> dict[str, Any]:
    started = time.monotonic()
    url = url_for(base, event)
    try:
        status, detail = post_webhook(url, text, PING_TIMEOUT, attempts=PING_ATTEMPTS,
                                      content_type="text/plain; charset=utf-8")
    except Exception as exc:  # a ping must never stop a drill: a bug here is recorded, not raised
        status, detail = "failed", f"{type(exc).__name__}: {exc}"
    detail = scrub(detail.replace(url, mask_url(url)), url_secrets(url))
    entry = {"target": f"ping {mask_url(base)}", "event": str(event), "status": status, "detail": detail,
             "duration_seconds": round(time.monotonic() - started, 3)}
    if status != "sent":
        log.warning("ping to %s (%s) failed: %s", mask_url(base), event, detail)
    return entry
