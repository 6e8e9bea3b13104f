"""What a site worker does with a dispatched run: the engine, as ``drillbook run`` runs it.

The message names the drill, the run id, the site, and how it was triggered; everything else comes
from the worker's own drills folder, so the drill's passwords are resolved here and never travel.
The run goes through :func:`drillbook.drill.batch.run_drills` (the same path as ``drillbook run``,
overrun guard included), with its outputs deferred to the central side (no notification, no seal:
the worker holds no signing key). The finished folder goes back packed (:mod:`~drillbook.sites.intake`).

A run id this worker has started before is refused (its claim file in the state folder): a message
re-published after a broker restart, or redelivered, never runs a drill twice here. The worker's own
copies of run folders are pruned at its start and before each run (:mod:`~drillbook.sites.staging`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from drillbook.drill import batch
from drillbook.drill.engine import RunOptions
from drillbook.errors import DrillbookError
from drillbook.sandbox.reaper import reap_stale_runs
from drillbook.settings import Settings
from drillbook.sites import intake, staging
from drillbook.sites.staging import RUN_ID, claim
from drillbook.spec.models import NAME_PATTERN
from drillbook.util.lazy import lazy_module

celeryapp = lazy_module("drillbook.sites.celeryapp")  # Celery: loaded only when sites are used

log = logging.getLogger("drillbook.sites.worker")

DEFAULT_OVERRUN = 3.0
DEFAULT_KEEP = 7 * 86400.0

Beat = Callable[[dict[str, Any]], None]


def serve_site(settings: Settings, site: str, concurrency: int, app: Any, heartbeat: float,
               name: str | None = None, keep_staged: float = DEFAULT_KEEP) -> None:
    """Clean up what a killed worker left (its sandboxes, runs left running), then consume ``site``."""
    for reaped in reap_stale_runs(settings):
        log.warning("cleaned up stale run %s %s: %s", reaped.drill, reaped.run_id, reaped.owner)
    worker = name or celeryapp.node_name(site)

    def prune() -> None:
        for folder in staging.prune(settings, lambda run_id: celeryapp.received(app, run_id), keep_staged):
            log.info("removed the staged copy %s: the central side has it, or it is old", folder)

    def body(payload: dict[str, Any], beat: Beat) -> dict[str, Any] | None:
        prune()
        return run_dispatched(settings, site, worker, heartbeat, payload, beat)

    prune()

    celeryapp.run_worker(app, site, concurrency, body, worker)


def run_dispatched(settings: Settings, site: str, worker: str, heartbeat: float, payload: dict[str, Any],
                   beat: Beat) -> dict[str, Any] | None:
    """One run, start to packed folder; a run that cannot start says why (never raises for it).
    None for a copy of a run this worker started before: no result, the first one's stays."""
    drill, run_id = str(payload.get("drill", "")), str(payload.get("run_id", ""))
    answer: dict[str, Any] = {"drill": drill, "run_id": run_id, "worker": worker}
    if not re.fullmatch(NAME_PATTERN, drill) or not RUN_ID.fullmatch(run_id):
        return {**answer, "error": "the message names no valid drill and run id"}
    if payload.get("site") != site:
        return {**answer, "error": f"dispatched to site {payload.get('site')!r}, this worker serves {site!r}"}
    if not claim(settings.state_dir, run_id):
        log.warning("run %s of %s was already started on %s: not run twice", run_id, drill, worker)
        return None
    stop = threading.Event()
    began = {**answer, "started": time.time()}  # the central side's overrun limit counts from here
    beating = threading.Thread(target=_beat, args=(beat, stop, heartbeat, began), daemon=True)
    beating.start()
    try:
        folder = celeryapp.encode(_run(settings, site, payload, drill, run_id))
        staging.mark_sent(settings.state_dir, drill, run_id)
        return {**answer, "folder": folder}
    except (DrillbookError, intake.Refused) as exc:
        return {**answer, "error": str(exc)}
    finally:
        stop.set()
        beating.join(timeout=5)


def _run(settings: Settings, site: str, payload: dict[str, Any], drill: str, run_id: str) -> bytes:
    loaded = batch.load_checked(settings, [drill])
    if loaded.drills[drill].site != site:
        raise intake.Refused(f"drill {drill} is declared for site {loaded.drills[drill].site} in "
                             f"{settings.drills_dir}, not {site}")
    batch.ensure_can_run(settings, loaded.config)
    factor = payload.get("stop_after_rto")
    options = RunOptions(trigger=str(payload.get("trigger") or "dispatch"), run_id=run_id,
                         stop_after_rto=float(factor) if isinstance(factor, (int, float)) else DEFAULT_OVERRUN,
                         central_outputs=True)
    outcome = batch.run_drills(loaded, [drill], settings, options)[0]
    return intake.pack_folder(outcome.run_dir)


def _beat(beat: Beat, stop: threading.Event, every: float, answer: dict[str, Any]) -> None:
    """The run's heartbeat into its result: the central side records it lost when these stop."""
    while True:
        try:
            beat({**answer, "beat": time.time()})
        except Exception as exc:  # the broker restarting: beats resume when it is back
            log.warning("heartbeat of run %s not stored: %s", answer["run_id"], type(exc).__name__)
        if stop.wait(every):
            return

