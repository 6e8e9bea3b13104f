"""Where a drill run leaves Python: the restic door and the sandbox, with the real ones as defaults.

The engine asks only for what these protocols name, so tests can run the real phase table against
a fake repository and a fake sandbox, and nothing else about the engine changes for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from drillbook.backends.restic import Restic, RestoreSize, Snapshot
from drillbook.util.lazy import lazy_module

if TYPE_CHECKING:
    from drillbook.backends.resticjson import RestoreCounts
    from drillbook.drill import space
    from drillbook.sandbox import holder, isolation
    from drillbook.sandbox.isolation import Account, Mode
    from drillbook.sandbox.safety import SafetyReport
    from drillbook.spec.models import Isolation
else:
    # The sandbox is made after the plan's first restic call: its modules load when it is.
    holder = lazy_module("drillbook.sandbox.holder")
    isolation = lazy_module("drillbook.sandbox.isolation")
    space = lazy_module("drillbook.drill.space")


class ResticDoor(Protocol):
    """What a drill asks of a repository: read-only calls, as :class:`Restic` makes them."""

    def version(self) -> str: ...

    def snapshots(self) -> list[Snapshot]: ...

    def ls(self, snapshot: str, selection: Sequence[str] = ()) -> Iterable[dict[str, Any]]: ...

    def each_node(self, snapshot_id: str, visit: Callable[[dict[str, Any]], None]) -> None: ...

    def restore_size(self, snapshot_id: str) -> RestoreSize: ...

    def restore(self, snapshot_id: str, target: Path, verify: bool = True, *,
                account: Account | None = None, leave_out: Sequence[str] = (),
                progress: Callable[[RestoreCounts], None] | None = None) -> RestoreCounts | None: ...

    def stop(self) -> None: ...


class SandboxLike(Protocol):
    """What a drill asks of its sandbox, as :class:`Sandbox` provides it."""

    path: Path
    launcher: Any
    account: Account
    mode: Mode
    in_memory: int | None

    @property
    def restore_root(self) -> Path: ...

    @property
    def restore_target(self) -> Path: ...

    def restore_on_disk(self) -> None: ...

    @property
    def work_dir(self) -> Path: ...

    def record(self) -> dict[str, Any]: ...

    def teardown(self) -> None: ...

    def prepare_restore(self, as_root: bool) -> None: ...

    def clear_restore(self, as_root: bool) -> None: ...

    def make_restore_safe(self) -> SafetyReport: ...


@dataclass(frozen=True)
class Seams:
    """The engine's ways out of Python (restic, the sandbox, the filesystem); tests put fakes here."""

    open_restic: Callable[..., ResticDoor] = Restic
    create_sandbox: Callable[[Path, str, Isolation, dict[str, str], Path | None], SandboxLike] = (
        lambda *args: holder.Sandbox.create(*args))
    unreadable_by: Callable[[Account, Path], str | None] = (  # tried as the account
        lambda account, path: isolation.unreadable_by(account, path))
    free_space: Callable[[Path], int] = lambda path: space.free_bytes(path)  # bytes the sandbox account may write there
