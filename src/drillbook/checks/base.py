"""The one small interface every check kind implements.

A check gets the restored tree and a launcher (plain or isolated) and returns a CheckResult. It
must never raise for a failing check: failure is a result. Unexpected exceptions are caught by
:func:`run_check` and become a failed check naming the error, never a pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from drillbook.drill.record import CheckResult
from drillbook.status import Status


class Launcher(Protocol):
    """Runs the processes of checks and services; the sandbox decides how isolated."""

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> Any: ...

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> Any: ...


@dataclass
class CheckContext:
    restore_root: Path
    work_dir: Path
    launcher: Any
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


def outside_restore(root: Path, path: Path) -> str | None:
    """Why ``path`` is not restored data, or None. A restored symlink may point at the live host
    (``db -> /var/lib/portal/db``); following it would verify the host, not the backup."""
    real_root = root.resolve()
    real = path.resolve()
    if real == real_root or real.is_relative_to(real_root):
        return None
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return f"{shown} leads outside the restore (a symlink to {real})"


CheckFn = Callable[[Any, CheckContext], CheckResult]
_REGISTRY: dict[str, CheckFn] = {}


def register(kind: str) -> Callable[[CheckFn], CheckFn]:
    def wrap(fn: CheckFn) -> CheckFn:
        _REGISTRY[kind] = fn
        return fn

    return wrap


def default_name(spec: Any) -> str:
    if getattr(spec, "name", None):
        return spec.name
    target = getattr(spec, "path", None) or getattr(spec, "url", None) or getattr(spec, "dump", None)
    if target is None and getattr(spec, "run", None):
        target = " ".join(spec.run)
    if target is None and getattr(spec, "data_dir", None):
        target = spec.data_dir
    if target is None and getattr(spec, "port", None):
        target = f"port {spec.port}"
    return f"{spec.type} {target}" if target else spec.type


def run_check(spec: Any, ctx: CheckContext) -> CheckResult:
    _load_kinds()
    fn = _REGISTRY.get(spec.type)
    started = time.monotonic()
    if fn is None:
        return CheckResult(spec.type, default_name(spec), Status.FAILED, f"no runner for {spec.type}")
    try:
        result = fn(spec, ctx)
    except Exception as exc:  # a bug or an environment fault must fail the check, loudly
        result = CheckResult(
            spec.type, default_name(spec), Status.FAILED, f"check could not run: {type(exc).__name__}: {exc}"
        )
    result.duration_seconds = round(time.monotonic() - started, 3)
    return result


def _load_kinds() -> None:
    """Import every kind's module once (each registers itself), whatever was imported before."""
    import drillbook.checks.command
    import drillbook.checks.files
    import drillbook.checks.services
    import drillbook.checks.sqlite  # noqa: F401
