"""What every check kind shares: its context, its default name, and the restore boundary.

A check gets the restored tree and a launcher and returns a CheckResult. It must never raise for a
failing check: failure is a result. Unexpected exceptions are caught by
:func:`drillbook.checks.kinds.run_check` and become a failed check naming the error, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.drill.record import CheckResult
from drillbook.sandbox.launcher import Launcher


@dataclass
class CheckContext:
    restore_root: Path
    work_dir: Path
    launcher: Launcher
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


#: A check kind: its spec model (FilesCheck, HttpCheck...) and the context in, a result out.
CheckFn = Callable[[Any, CheckContext], CheckResult]


def outside_restore(root: Path, path: Path) -> str | None:
    """Why ``path`` is not restored data, or None. A restored symlink may point at the live host
    (``db -> /var/lib/portal/db``); following it would verify the host, not the backup."""
    real_root = root.resolve()
    real = path.resolve()
    if real == real_root or real.is_relative_to(real_root):
        return None
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return f"{shown} leads outside the restore (a symlink to {real})"


def default_name(spec: Any) -> str:
    """A check without ``name:`` is named by its kind and target, so reports stay readable."""
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
