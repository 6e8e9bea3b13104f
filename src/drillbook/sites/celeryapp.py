"""Celery, behind this one module: the app, a site's queue, the one task, results and inspection.

The rest of drillbook speaks of sites, runs and workers; only this module knows Celery's names.

Acknowledgement: **early** (``task_acks_late=False``, Celery's default, kept on purpose). A worker
acknowledges a run's message when it starts it, so a worker killed mid-drill never has the run
redelivered: a restore half done must not be repeated silently (its sandbox and restic lock may
still be there). The central side notices instead: a running task writes a heartbeat into its
result every ``heartbeat`` seconds; a run whose heartbeat is older than :data:`LOST_BEATS` beats is
recorded ``aborted`` naming its worker (:mod:`~drillbook.sites.central`). Redis' visibility timeout
(1 h by default) then only concerns a message a worker *fetched but never started* (prefetch is 1):
redelivering that one is right, and a long drill is unaffected because its message is already
acknowledged. ``task_reject_on_worker_lost`` stays False for the same reason.

A message lost with the broker (a Redis without persistence restarted) is re-published by the
central side from its outbox with the same task id (the run id); the worker refuses a run id it
has already started (:mod:`~drillbook.sites.worker`), and the central side writes a run once.

No secret travels: a message holds the drill's name, the run id, its site, due time and trigger;
the worker resolves the drill's passwords from its own drills folder, and a result holds the run
folder, whose record the engine has already scrubbed. The broker's own password is put into the
URL in memory only (the URL on disk has none); Celery logs URLs with the password masked.
"""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from celery import Celery
from celery.exceptions import Ignore
from celery.result import AsyncResult

from drillbook.spec.models import TLS_SCHEMES

TASK = "drillbook.site_run"
QUEUE_PREFIX = "drillbook.site."
LOST_BEATS = 3  # a run silent this many heartbeats is lost with its worker
RESULT_DAYS = 7  # results no one collected are dropped by the backend after this
RECEIVED = "received_centrally"  # the result's one key once the central side has written the run

Body = Callable[[dict[str, Any], Callable[[dict[str, Any]], None]], dict[str, Any] | None]


def queue_of(site: str) -> str:
    return QUEUE_PREFIX + site


def site_of(queue: str) -> str | None:
    return queue[len(QUEUE_PREFIX):] if queue.startswith(QUEUE_PREFIX) else None


def with_password(url: str, password: str | None) -> str:
    """The URL as the client needs it: the password in memory only, never written anywhere."""
    if not password:
        return url
    parts = urlsplit(url)
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_tls(url: str) -> tuple[str, dict[str, Any] | None]:
    """The URL as kombu takes it, and the ``broker_use_ssl`` an amqps:// broker needs.

    Certificates are always checked: rediss:// gets ``ssl_cert_reqs=required`` when the URL does
    not say (kombu would otherwise connect without checking). pyamqp does not read TLS options from
    the URL, so an amqps:// URL's ``ssl_*`` options move into its TLS settings (the configuration
    check requires ``ssl_ca_certs`` there).
    """
    parts = urlsplit(url)
    if parts.scheme not in TLS_SCHEMES:
        return url, None
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.scheme == "rediss":
        options.setdefault("ssl_cert_reqs", "required")
        return urlunsplit(parts._replace(query=urlencode(options, safe="/"))), None
    tls: dict[str, Any] = {"ca_certs": options.get("ssl_ca_certs"), "cert_reqs": ssl.CERT_REQUIRED}
    tls |= {key: options[f"ssl_{key}"] for key in ("certfile", "keyfile") if options.get(f"ssl_{key}")}
    return urlunsplit(parts._replace(query="")), {**tls, "server_hostname": parts.hostname}


def make_app(broker: str, results: str, password: str | None) -> Celery:
    broker_url, broker_tls = with_tls(with_password(broker, password))
    results_url, _ = with_tls(with_password(results, password))
    app = Celery("drillbook", broker=broker_url, backend=results_url, set_as_current=False)
    app.conf.update(
        broker_use_ssl=broker_tls,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_acks_late=False, task_reject_on_worker_lost=False,  # see the module's docstring
        task_track_started=True, worker_prefetch_multiplier=1,
        result_expires=RESULT_DAYS * 86400, result_extended=False,
        result_backend_always_retry=True, result_backend_max_retries=60,  # a broker restart: keep the result
        broker_connection_retry_on_startup=True,
        worker_send_task_events=True, task_send_sent_event=True,  # Flower sees runs queued, started, done
        worker_hijack_root_logger=False, worker_redirect_stdouts=False,
        task_default_queue=queue_of("default"),
    )
    return app


# -- the central side --------------------------------------------------------------------------
def publish(app: Celery, payload: dict[str, Any], site: str, task_id: str) -> None:
    app.send_task(TASK, args=[payload], queue=queue_of(site), task_id=task_id)


@dataclass(frozen=True)
class TaskView:
    """What the result backend says of one run: PENDING (unknown), STARTED (beats), SUCCESS, FAILURE."""

    state: str
    info: dict[str, Any] = field(default_factory=dict)


def view(app: Celery, task_id: str) -> TaskView:
    result = AsyncResult(task_id, app=app)
    state = str(result.state)
    info = result.info if isinstance(result.info, dict) else {}
    if state == "FAILURE":
        info = {"error": f"{type(result.info).__name__}: {str(result.info)[:300]}"}
    return TaskView(state, info)


def stop(app: Celery, task_id: str) -> None:
    """Revoke a run and terminate what runs it: a prefork worker kills the pool process at once;
    the solo pool (``--concurrency 1``) reads the revoke only once the stuck run returns."""
    app.control.revoke(task_id, terminate=True, signal="SIGTERM")


def mark_received(app: Celery, task_id: str) -> None:
    """The result (the folder, up to 32 MB) replaced by a note that the central side has the run:
    the worker then removes its own copy (:func:`received`); the note expires as results do."""
    AsyncResult(task_id, app=app).forget()  # a stored success is never overwritten: dropped first
    app.backend.store_result(task_id, {RECEIVED: True}, "SUCCESS")


def received(app: Celery, task_id: str) -> bool:
    seen = view(app, task_id)
    return seen.state == "SUCCESS" and seen.info.get(RECEIVED) is True


def waiting(app: Celery, site: str) -> int:
    """Messages in ``site``'s queue now (0 after a broker restart lost them)."""
    with app.connection_for_write() as conn:
        declared = conn.default_channel.queue_declare(queue=queue_of(site), passive=False, durable=True,
                                                      auto_delete=False)
        return int(declared.message_count)


def held(app: Celery, timeout: float = 1.0) -> set[str]:
    """Task ids some worker holds now: running, or fetched and waiting for the pool."""
    spy = app.control.inspect(timeout=timeout)
    ids = set()
    for answer in (spy.active() or {}, spy.reserved() or {}):
        for tasks in answer.values():
            ids |= {str(t.get("id")) for t in tasks}
    return ids


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("no folder in the result")
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class WorkerView:
    name: str
    sites: list[str]
    concurrency: int | None
    running: list[dict[str, Any]]  # the payloads of the runs it executes now


def inspect(app: Celery, timeout: float = 2.0) -> list[WorkerView]:
    """Every worker that answers within ``timeout``: its sites, pool size and what it runs."""
    spy = app.control.inspect(timeout=timeout)
    queues = spy.active_queues() or {}
    stats = spy.stats() or {}
    active = spy.active() or {}
    views = []
    for name in sorted(set(queues) | set(stats)):
        sites = sorted(s for q in queues.get(name, []) if (s := site_of(str(q.get("name", "")))))
        pool = (stats.get(name) or {}).get("pool") or {}
        running = [t["args"][0] for t in active.get(name, []) if t.get("args") and isinstance(t["args"][0], dict)]
        views.append(WorkerView(name, sites, pool.get("max-concurrency"), running))
    return views


# -- the worker side ---------------------------------------------------------------------------
def node_name(site: str) -> str:
    return f"{site}@{socket.gethostname()}"


def run_worker(app: Celery, site: str, concurrency: int, body: Body, name: str | None = None) -> None:
    """Consume ``site``'s queue only, until stopped; each run goes to ``body(payload, beat)``.

    One run at a time uses the solo pool (the run in the worker's own process, so stopping the
    worker stops the run); more use prefork children.
    """

    @app.task(name=TASK, bind=True)
    def site_run(task: Any, payload: dict[str, Any]) -> dict[str, Any]:
        task_id = task.request.id

        def beat(meta: dict[str, Any]) -> None:
            task.backend.store_result(task_id, meta, "STARTED")

        answer = body(payload, beat)
        if answer is None:  # a copy of a run already started here: its first result must stay
            raise Ignore()
        return answer

    pool = ["--pool", "solo"] if concurrency <= 1 else ["--pool", "prefork", "--concurrency", str(concurrency)]
    app.worker_main(["worker", "--queues", queue_of(site), "--hostname", name or node_name(site),
                     "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--events", *pool])
