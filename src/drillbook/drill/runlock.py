"""One run of a drill at a time on a state folder, whoever starts it: cron, serve, a person, a runbook.

serve keeps one run per drill among its own jobs, but a ``drillbook run`` from cron knows nothing of
them: two runs of one drill would restore the same snapshot twice, compete for disk and for the
services a check starts, and file two records for one due time. So the engine holds an flock on
``<state>/drill-locks/<drill>.lock`` (owner-only, never unlinked: see util/locks) for the whole run,
with the holder's pid and run id written inside. A second run finds it busy and stops before it
records anything (exit 3, naming the holder), or waits for it up to ``--wait-lock``.

serve asks :func:`busy_with` before it starts a child, so a drill that a cron run holds is reported
skipped instead of a failed run. That probe takes the lock shared for an instant, so a run that
must not wait still retries for :data:`START_GRACE` seconds rather than lose to a probe.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from drillbook.errors import CannotRun
from drillbook.util.durations import format_duration
from drillbook.util.locks import LockBusy, file_lock, say_holder
from drillbook.util.signals import Interrupted

FOLDER = "drill-locks"
START_GRACE = 0.5  # seconds: longer than any probe holds the lock, short enough to be "at once"


@dataclass(frozen=True)
class Holder:
    """Who runs the drill: what a second run needs to say to the person who started it."""

    pid: int
    run_id: str
    trigger: str
    started_at: str

    @classmethod
    def me(cls, run_id: str, trigger: str, started_at: str) -> Holder:
        return cls(os.getpid(), run_id, trigger, started_at)

    def note(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def describe(note: str) -> str:
    """A holder's note as a person reads it; the note may be empty (the holder is just starting)."""
    try:
        data = json.loads(note)
        return (f"pid {int(data['pid'])}, run {data['run_id']}, {data['trigger']}, "
                f"started {data['started_at']}")
    except (ValueError, TypeError, KeyError):
        return "holder not known yet: it is starting"


class DrillBusy(CannotRun):
    """Another process runs this drill: nothing was run, no record was written (exit 3)."""

    def __init__(self, drill: str, holder: str, waited: float):
        waited_text = f" for {format_duration(waited)}" if waited > START_GRACE else ""
        hint = ("wait for it, or give --wait-lock DURATION" if waited <= START_GRACE
                else "give a longer --wait-lock, or stop that run")
        super().__init__(f'drill "{drill}" is already being run by another drillbook process ({holder}); '
                         f"it stayed locked{waited_text}, so this run did not start: {hint}")
        self.drill = drill
        self.holder = holder


def lock_path(state_dir: Path, drill: str) -> Path:
    return state_dir / FOLDER / f"{drill}.lock"


@contextmanager
def held(state_dir: Path, drill: str, me: Holder, wait: float = 0.0,
         on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold drill ``drill``'s lock inside the block, waiting up to ``wait`` seconds for it.

    ``on_wait`` hears the holder's description once, when the lock is busy and this run will wait.
    """
    with ExitStack() as stack:
        try:
            fd = _take(stack, lock_path(state_dir, drill), drill, wait, on_wait)
        except (Interrupted, KeyboardInterrupt):
            raise CannotRun(f'stopped while waiting for drill "{drill}" (held by another run); '
                            "nothing was run") from None
        say_holder(fd, me.note())
        try:
            yield
        finally:
            say_holder(fd, "")


def _take(stack: ExitStack, path: Path, drill: str, wait: float,
          on_wait: Callable[[str], None] | None) -> int:
    try:
        return stack.enter_context(file_lock(path, timeout=START_GRACE))
    except LockBusy as busy:
        if wait <= START_GRACE:
            raise DrillBusy(drill, describe(busy.holder), wait) from None
        if on_wait:
            on_wait(describe(busy.holder))
    try:
        return stack.enter_context(file_lock(path, timeout=wait - START_GRACE))
    except LockBusy as busy:
        raise DrillBusy(drill, describe(busy.holder), wait) from None


def busy_with(state_dir: Path, drill: str) -> str | None:
    """The holder's description when a run of ``drill`` holds its lock now, else None (serve's probe)."""
    path = lock_path(state_dir, drill)
    if not path.exists():
        return None
    try:
        with file_lock(path, timeout=0, shared=True):
            return None
    except LockBusy as busy:
        return describe(busy.holder)
