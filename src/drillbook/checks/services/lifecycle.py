"""Start a service from the restore, wait for it to answer, always stop it.

Shared by ``http`` and ``tcp``: the service runs from the restore root inside the drill's
isolation; readiness is polled in short probe windows so a service that dies is noticed at once
rather than after the whole ``ready_timeout``. Whatever the outcome, the service and anything it
spawned are killed before the next check runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from drillbook.checks.base import CheckContext
from drillbook.sandbox.launcher import RunningService
from drillbook.util.durations import format_duration
from drillbook.util.process import Completed, tail

PROBE_WINDOW = 2.0


class ServiceFailed(Exception):
    """The service could not be started or never answered: the check fails with this reason."""

    def __init__(self, reason: str, output: list[str] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.output = output or []
        self.service: RunningService | None = None  # a stack's service that failed: its log is kept


@dataclass
class Readiness:
    answer: dict[str, Any]
    ready_seconds: float
    attempts: int
    output: list[str] = field(default_factory=list)


class Server(Protocol):
    """A database server of a stack being brought up (postgres.Throwaway, mariadb.MariaServer)."""

    @property
    def service(self) -> RunningService | None: ...

    def stop(self, sweep: bool = ...) -> None: ...


@contextmanager
def stopped_on_failure(server: Server) -> Iterator[None]:
    """Bringing a stack's server up: when that fails it is stopped, without sweeping the sandbox
    (the stack's other services run on), and the ServiceFailed carries its process, whose log
    the stack keeps."""
    try:
        yield
    except ServiceFailed as exc:
        server.stop(sweep=False)
        exc.service = server.service
        raise
    except BaseException:
        server.stop(sweep=False)
        raise


def checked_step(done: Completed, what: str, timeout: float,
                 failure: type[ServiceFailed] = ServiceFailed) -> Completed:
    """A step of bringing a server up that must succeed: ``failure`` names it and why otherwise."""
    if done.timed_out:
        raise failure(f"{what} timed out after {timeout:.0f} s", tail(done.stderr, 10))
    if done.returncode != 0:
        lines = tail(done.stderr or done.stdout, 10)
        raise failure(f"{what} failed: {lines[-1] if lines else f'exit {done.returncode}'}", lines)
    return done


def service_env(ctx: CheckContext, spec_env: dict[str, str]) -> dict[str, str]:
    """The drill's env, then the check's own; the restore root always where the check ran."""
    return {**ctx.env, **spec_env, "DRILLBOOK_RESTORE_ROOT": str(ctx.restore_root)}


@contextmanager
def running_service(start: list[str] | None, ctx: CheckContext,
                    env: dict[str, str]) -> Iterator[RunningService | None]:
    """Yield the started service (or None when the check only probes); stop it afterwards."""
    if not start:
        yield None
        return
    try:
        service = ctx.launcher.start(list(start), cwd=ctx.restore_root, env=env)
    except FileNotFoundError:
        raise ServiceFailed(f"{start[0]}: program not found") from None
    try:
        yield service
    finally:
        service.stop()
        ctx.launcher.sweep()


def wait_until_ready(service: RunningService | None, probe: Callable[[float], dict[str, Any]], timeout: float,
                     is_ready: Callable[[dict[str, Any]], bool], what: str) -> Readiness:
    """Probe in short windows until ``is_ready`` or ``timeout``; notice a service that exits."""
    started = time.monotonic()
    deadline = started + timeout
    attempts, answer = 0, {"answered": False, "error": "not probed"}
    while True:
        if service is not None and service.poll() is not None:
            raise ServiceFailed(f"the service exited with code {service.poll()} before "
                                f"{what} answered", service.output_tail())
        remaining = deadline - time.monotonic()
        answer = probe(max(0.2, min(PROBE_WINDOW, remaining)))
        attempts += 1
        if is_ready(answer):
            return Readiness(answer, round(time.monotonic() - started, 3), attempts)
        if time.monotonic() >= deadline:
            break
    output = service.output_tail() if service is not None else []
    if answer.get("answered"):
        return Readiness(answer, round(time.monotonic() - started, 3), attempts, output)
    raise ServiceFailed(f"no answer from {what} within {format_duration(timeout)} "
                        f"(last: {answer.get('error', 'unknown')})", output)
