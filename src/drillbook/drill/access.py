"""Opening a drill's repository: its password, its backend's environment, restic, a first call.

A run (engine.py, its plan phase) and ``drillbook plan`` open a repository the same way, so what
the plan says about a password or a repository is what the run will meet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drillbook.backends.repository import Probe, backend_environment, cache_dir, resolve_repository
from drillbook.backends.restic import ResticError
from drillbook.backends.secrets import resolve_password
from drillbook.drill.seams import ResticDoor
from drillbook.spec.models import Source
from drillbook.util.scrub import secret_values


class AccessFailed(Exception):
    """The repository cannot be opened; the text says why, never with a secret in it."""

    def __init__(self, message: str, *, password: bool = False):
        super().__init__(message)
        self.password = password  # the password could not be read (not: restic refused it)


@dataclass
class Opened:
    restic: ResticDoor
    repository: str  # as restic gets it: a local path resolved against the drill's file
    secrets: list[str]  # the password and the backend's credentials, masked wherever text goes
    credentials: str | None  # where the backend's credentials came from, for the record
    probe: Probe | None


def open_repository(source: Source, base: Path, cache: Path, open_restic: Callable[..., ResticDoor],
                    timeout: float) -> Opened:
    """The password read and restic's door opened; nothing is asked of the repository yet."""
    try:
        password = resolve_password(source.password, base)
    except Exception as exc:  # PasswordError, or any fault of an AWS secret store
        raise AccessFailed(f"cannot read the repository password: {exc}", password=True) from None
    credentials, probe = backend_environment(source.repository)
    repository = resolve_repository(source.repository, base)
    restic = open_restic(repository, password, env=credentials.env, account_env=credentials.account_env,
                         cache_dir=cache_dir(source.repository, cache), timeout=timeout,
                         stuck_request_timeout=float(source.stuck_request_timeout))
    secrets = [password, *secret_values(credentials.env), *secret_values(credentials.account_env)]
    return Opened(restic, repository, secrets, credentials.described, probe)


def restic_version(opened: Opened) -> str:
    try:
        return opened.restic.version() or "unknown"
    except ResticError as exc:
        raise AccessFailed(exc.message) from None


def probe(opened: Opened) -> None:
    """The backend's fast reachability probe (S3), before restic retries for minutes."""
    problem = opened.probe() if opened.probe else None
    if problem:
        raise AccessFailed(problem)
