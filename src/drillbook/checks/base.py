"""What every check kind shares: its context, its default name, and the restore boundary.

A check gets the restored tree and a launcher and returns a CheckResult. It must never raise for a
failing check: failure is a result. Restored files are never opened by drillbook's own process:
a check asks the reader inside the sandbox (:func:`read_restore`) or runs a program there.
Unexpected exceptions are caught by :func:`drillbook.checks.kinds.run_check` and become a failed
check naming the error, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from drillbook.drill.record import CheckResult
from drillbook.sandbox.inside import ReaderFailed, read_inside
from drillbook.sandbox.isolation import OWN_FOLDER
from drillbook.sandbox.launcher import Launcher


class RunningStack(Protocol):
    """The drill's services while they run (checks/services/stack.py), for the checks that address one."""

    def database(self, name: str) -> Any: ...


@dataclass
class CheckContext:
    restore_root: Path
    work_dir: Path
    launcher: Launcher
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    stack: RunningStack | None = None  # set while the drill's services: run

    @property
    def own_dir(self) -> Path:
        """Where drillbook writes files for sandboxed programs (a server's configuration).

        Beside ``work/`` in the sandbox folder, which only drillbook may write: the sandbox
        account owns ``work/``, so a process it left running could swap anything there.
        """
        return self.work_dir.parent / OWN_FOLDER


#: A check kind: its spec model (FilesCheck, HttpCheck...) and the context in, a result out.
CheckFn = Callable[[Any, CheckContext], CheckResult]


def default_name(spec: Any) -> str:
    """A check without ``name:`` is named by its kind and target, so reports stay readable."""
    if getattr(spec, "name", None):
        return spec.name
    target = (getattr(spec, "path", None) or getattr(spec, "url", None) or getattr(spec, "dump", None)
              or getattr(spec, "service", None))
    if target is None and getattr(spec, "run", None):
        target = " ".join(spec.run)
    if target is None and getattr(spec, "data_dir", None):
        target = spec.data_dir
    if target is None and getattr(spec, "port", None):
        target = f"port {spec.port}"
    return f"{spec.type} {target}" if target else spec.type


def read_restore(ctx: CheckContext, op: str, timeout: float, **request: Any) -> dict[str, Any]:
    """The answer of the reader inside the sandbox (see sandbox/inside.py) for the restore.

    Raises ReaderFailed, in drillbook's words, when the reader cannot run or answer.
    """
    return read_inside(ctx.launcher, ctx.own_dir, ctx.restore_root,
                       {"op": op, "root": str(ctx.restore_root), **request}, timeout)


def answer_list(answer: dict[str, Any], key: str, kind: type = str) -> list[Any]:
    """A list the reader answered, every item of ``kind``; ReaderFailed when it is anything else."""
    value = answer.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
        raise ReaderFailed(f"the reader inside the sandbox answered a malformed {key!r}")
    return value
