"""What each exit code of ``drillbook`` means, and the one rule from run statuses to an exit code.

Scripts, cron and systemd tell outcomes apart by the code alone: a drill that failed (1) is a
finding about a backup, bad input (2) is a mistake in the command or a drill file, 3 is drillbook
unable to run, and a run stopped from outside says by which signal, as a shell would (128 + the
signal's number): 130 for SIGINT (Ctrl-C), 143 for SIGTERM.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable

from drillbook.status import Status
from drillbook.util.signals import stop_signal

PASSED, FAILED, BAD_INPUT, CANNOT_RUN = 0, 1, 2, 3
SIGNALLED = 128
INTERRUPTED, TERMINATED = SIGNALLED + signal.SIGINT, SIGNALLED + signal.SIGTERM

MEANINGS = (
    (PASSED, "every drill (or runbook step) passed"),
    (FAILED, "a drill or runbook failed"),
    (BAD_INPUT, "bad input: a drill file, a runbook or an argument; nothing was run"),
    (CANNOT_RUN, "drillbook could not run (restic missing, folder not writable, drill already running)"),
    (INTERRUPTED, "stopped by SIGINT (Ctrl-C); the run was torn down and recorded aborted"),
    (TERMINATED, "stopped by SIGTERM; the run was torn down and recorded aborted"),
)


def epilog() -> str:
    """The table for ``--help``; ``\\b`` keeps click from rewrapping it."""
    return "\b\nExit codes:\n" + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in MEANINGS)


def for_interrupt() -> int:
    """A run stopped by a signal: 128 + the signal that came first (SIGTERM when none is known)."""
    return SIGNALLED + (stop_signal() or signal.SIGTERM)


#: Statuses that exit 0: passed, and a runbook run --from a later step whose steps all passed
#: (recorded partial: not a rehearsal, but nothing that ran failed).
SUCCESSES = frozenset({Status.PASSED, Status.PARTIAL})


def for_statuses(statuses: Iterable[str]) -> int:
    """0 when every run passed; the signal's code when one was aborted; 1 otherwise (or none ran)."""
    seen = list(statuses)
    if Status.ABORTED in seen:
        return for_interrupt()
    return PASSED if seen and all(s in SUCCESSES for s in seen) else FAILED
