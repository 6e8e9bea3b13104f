"""A drill's ``services:``: a whole stack up in the sandbox for the checks that address it.

Services start wave by wave in ``after:`` order (see :mod:`drillbook.spec.stackorder`), one at
a time, each waited for until ready: a database when it answers a query, a process when its
``ready:`` probe (or its ``port:``) answers from inside the sandbox. All of them share the drill's
one sandbox, so they reach each other on 127.0.0.1 there and nothing else reaches them. The first
that does not become ready ends the start-up: it is recorded ``failed`` with its last log lines,
every service after it ``skipped``, never started. :meth:`Stack.stop` stops the started ones in
reverse order and keeps each one's output, capped and scrubbed, as ``services/<name>.log`` in the
run folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from drillbook.checks.base import CheckContext
from drillbook.checks.services import mariadb, pgbin, postgres
from drillbook.checks.services.lifecycle import ServiceFailed, service_env, wait_until_ready
from drillbook.checks.services.probe import HTTP_PROBE, MAX_BODY, TCP_PROBE, run_probe
from drillbook.sandbox.launcher import RunningService
from drillbook.spec.models import (
    DatabaseService,
    MariadbService,
    PostgresService,
    ProcessService,
    Query,
)
from drillbook.spec.stackorder import start_waves
from drillbook.status import Status
from drillbook.util.atomic import make_folders, write_text_atomic
from drillbook.util.clock import iso, utc_now
from drillbook.util.plain import strip_controls
from drillbook.util.scrub import scrub, secret_values

AnyService = PostgresService | MariadbService | ProcessService
LOG_FOLDER = "services"
LOG_CAP = 256 * 1024  # the end of a service's output kept in the run folder
LAST_LINES = 5


class Handle(Protocol):
    """A started service: what stops it, and its process (for its output)."""

    @property
    def service(self) -> RunningService | None: ...

    def stop(self, sweep: bool = ...) -> None: ...


class Database(Protocol):
    """A started database service the ``sql`` check queries."""

    @property
    def database(self) -> str | None: ...

    def queries(self, database: str | None, queries: list[Query]) -> list[dict[str, Any]]: ...


@dataclass
class ProcessHandle:
    service: RunningService | None

    def stop(self, sweep: bool = False) -> None:
        if self.service is not None:
            self.service.stop()


@dataclass
class PostgresDatabase:
    """The stack's PostgreSQL as the ``sql`` check sees it."""

    server: postgres.Throwaway

    @property
    def service(self) -> RunningService | None:
        return self.server.service

    @property
    def database(self) -> str | None:
        return self.server.data.get("database")

    def stop(self, sweep: bool = False) -> None:
        self.server.stop(sweep=sweep)

    def queries(self, database: str | None, queries: list[Query]) -> list[dict[str, Any]]:
        return postgres.run_queries(self.server, database or self.database or "postgres", queries)


@dataclass
class Member:
    name: str
    spec: AnyService
    record: dict[str, Any]
    handle: Handle | None = None


@dataclass
class Stack:
    """The drill's services, in start order; ``records`` is what the run record keeps."""

    ctx: CheckContext
    services: dict[str, AnyService]
    run_dir: Path
    observe: Callable[[str, str, dict[str, Any]], None] = lambda *_: None
    members: list[Member] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        order = [n for wave in start_waves({n: s.after for n, s in self.services.items()}) for n in wave]
        self.members = [Member(n, self.services[n], describe(n, self.services[n])) for n in order]
        # what the services were given as secrets (a database password in env:) never reaches a log
        self.secrets = [*self.ctx.secrets, *secret_values(self.ctx.env),
                        *(v for s in self.services.values() for v in secret_values(s.env))]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [m.record for m in self.members]

    def start(self) -> str | None:
        """Start every service in order; the reason the first that never got ready gives, else None."""
        failure = None
        for member in self.members:
            if failure:
                member.record.update(status=Status.SKIPPED, detail="not started: an earlier service "
                                                                   "never got ready")
                continue
            failure = self._start(member)
        return failure

    def database(self, name: str) -> Database | None:
        """The running database service ``name``, or None when it is not running."""
        for member in self.members:
            if member.name == name and isinstance(member.handle, (PostgresDatabase, mariadb.MariaServer)):
                return member.handle
        return None

    def stop(self) -> None:
        """Stop the started services in reverse order, keep their logs, then sweep the sandbox."""
        for member in reversed(self.members):
            if member.handle is None:
                continue
            stopped = time.monotonic()
            try:
                member.handle.stop(sweep=False)
            finally:
                member.record["stop_seconds"] = round(time.monotonic() - stopped, 3)
                self._keep_log(member, member.handle.service)
                member.handle = None
        self.ctx.launcher.sweep()

    def _start(self, member: Member) -> str | None:
        record = member.record
        record["started_at"] = iso(utc_now())
        self.observe("service-start", member.name, {"type": member.spec.type})
        started = time.monotonic()
        data: dict[str, Any] = {}
        try:
            member.handle = start_one(member.spec, self.ctx, data)
        except (ServiceFailed, pgbin.NoBinaries) as exc:
            reason = getattr(exc, "reason", str(exc))
            output = getattr(exc, "output", [])
            record.update(status=Status.FAILED, detail=scrub(strip_controls(reason), self.secrets),
                          duration_seconds=round(time.monotonic() - started, 3))
            record["data"] = data
            self._keep_log(member, getattr(exc, "service", None), output)  # NoBinaries has none
            last = "; ".join(scrub(strip_controls(line), self.secrets) for line in output[-LAST_LINES:])
            self.observe("service-end", member.name, {"status": Status.FAILED, "detail": reason})
            return (f'service "{member.name}" never got ready: {record["detail"]}'
                    + (f" (last log lines: {last})" if last else ""))
        ready = round(time.monotonic() - started, 3)
        record.update(status=Status.PASSED, ready_seconds=ready, duration_seconds=ready,
                      detail=_ready_detail(member.spec, data, ready), data=data)
        self.observe("service-end", member.name, {"status": Status.PASSED, "detail": record["detail"]})
        return None

    def _keep_log(self, member: Member, service: RunningService | None, fallback: list[str] | None = None) -> None:
        """The service's output, capped to its end and scrubbed, as services/<name>.log."""
        text = _log_text(service) if service is not None else "\n".join(fallback or [])
        if not text:
            return
        folder = self.run_dir / LOG_FOLDER
        make_folders(folder)
        clean = scrub(strip_controls(text), self.secrets)
        write_text_atomic(folder / f"{member.name}.log", clean)
        member.record["log"] = f"{LOG_FOLDER}/{member.name}.log"


def addresses_stack(spec: Any, has_services: bool) -> bool:
    """Runs while the stack is up: a ``sql`` check, and in a drill with services an ``http`` or
    ``tcp`` check that starts nothing of its own (it probes what a service runs)."""
    if spec.type == "sql":
        return True
    return has_services and spec.type in ("http", "tcp") and not spec.start


def describe(name: str, spec: AnyService) -> dict[str, Any]:
    """What the record says of a declared service before it starts."""
    if isinstance(spec, DatabaseService):
        source = f"dump {spec.dump}" if spec.dump else f"data folder {spec.data_dir}"
    else:
        source = " ".join(getattr(spec, "run", []))
    return {"name": name, "type": spec.type, "source": source, "after": list(spec.after),
            "port": spec.port, "status": "not started", "detail": ""}


def start_one(spec: AnyService, ctx: CheckContext, data: dict[str, Any]) -> Handle:
    if isinstance(spec, PostgresService):
        return PostgresDatabase(postgres.start_service(spec, ctx, data))
    if isinstance(spec, MariadbService):
        return mariadb.start_service(spec, ctx, data)
    return _start_process(spec, ctx, data)


def _start_process(spec: ProcessService, ctx: CheckContext, data: dict[str, Any]) -> ProcessHandle:
    env = service_env(ctx, spec.env)
    try:
        service = ctx.launcher.start(list(spec.run), cwd=ctx.restore_root, env=env)
    except FileNotFoundError:
        raise ServiceFailed(f"{spec.run[0]}: program not found") from None
    try:
        probe, is_ready, what = _probe(spec, ctx, env)
        ready = wait_until_ready(service, probe, float(spec.ready.timeout), is_ready, what)
        if not is_ready(ready.answer):
            raise ServiceFailed(f"{what} answered {ready.answer.get('status')}, not "
                                f"{spec.ready.expect_status}, within {spec.ready.timeout.text}",
                                service.output_tail())
    except ServiceFailed as exc:
        service.stop()
        exc.service = service
        raise
    except BaseException:
        service.stop()
        raise
    data["ready_probe"] = what
    return ProcessHandle(service)


Probe = Callable[[float], dict[str, Any]]


def _probe(spec: ProcessService, ctx: CheckContext, env: dict[str, str]) -> tuple[
        Probe, Callable[[dict[str, Any]], bool], str]:
    """The probe of ``ready:``: http, else tcp on ready.tcp or port."""
    ready = spec.ready
    if ready.http is not None:
        url = ready.http

        def http(window: float) -> dict[str, Any]:
            return run_probe(ctx.launcher, HTTP_PROBE, {"url": url, "expect_status": ready.expect_status,
                                                        "window": window, "max_body": MAX_BODY},
                             cwd=ctx.work_dir, env=env)

        return http, lambda a: a.get("status") == ready.expect_status, url
    port = ready.tcp or spec.port

    def tcp(window: float) -> dict[str, Any]:
        return run_probe(ctx.launcher, TCP_PROBE, {"host": "127.0.0.1", "port": port, "window": window,
                                                   "send": None, "expect": None, "read_timeout": 1.0},
                         cwd=ctx.work_dir, env=env)

    return tcp, lambda a: bool(a.get("answered")), f"127.0.0.1:{port}"


def _ready_detail(spec: AnyService, data: dict[str, Any], seconds: float) -> str:
    if isinstance(spec, DatabaseService):
        version = data.get("server_version", "?")
        restored = f", dump restored in {data['restore_seconds']} s" if "restore_seconds" in data else ""
        server = "PostgreSQL" if isinstance(spec, PostgresService) else "MariaDB"
        return f"{server} {version} ready after {seconds} s{restored}"
    return f"{data.get('ready_probe', 'ready')} answered after {seconds} s"


def _log_text(service: RunningService) -> str:
    path = getattr(service, "log_path", None)
    if path is None:
        return "\n".join(service.output_tail(200))
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - LOG_CAP))
            raw = fh.read(LOG_CAP)
    except OSError:
        return ""
    cut = f"[... first {size - LOG_CAP} bytes left out ...]\n" if size > LOG_CAP else ""
    return cut + raw.decode("utf-8", errors="replace")
