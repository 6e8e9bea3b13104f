"""What every check kind shares: its context, its default name, and the restore boundary.

A check gets the restored tree and a launcher and returns a CheckResult. It must never raise for a
failing check: failure is a result. Restored files are read through
:class:`drillbook.util.restored.RestoredPath`, never opened by name. Unexpected exceptions are caught by
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

    @property
    def own_dir(self) -> Path:
        """Where drillbook writes files for sandboxed programs (a server's configuration).

        Beside ``work/`` in the sandbox folder, which only drillbook may write: the sandbox
        account owns ``work/``, so a process it left running could swap anything there.
        """
        return self.work_dir.parent / OWN_DIR


#: drillbook's own folder in the sandbox folder (see CheckContext.own_dir).
OWN_DIR = "config"

#: A check kind: its spec model (FilesCheck, HttpCheck...) and the context in, a result out.
CheckFn = Callable[[Any, CheckContext], CheckResult]


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
