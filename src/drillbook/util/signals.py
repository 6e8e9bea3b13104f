"""SIGTERM and SIGHUP become :class:`Interrupted`, so runs tear down and record ``aborted``.

Shared by ``drillbook run`` and ``drillbook runbook run``: both must stop the same way.
"""

from __future__ import annotations

import signal
from typing import Any

from drillbook.drill.engine import Interrupted


class signals_raise_interrupted:
    """Context manager: inside it, SIGTERM/SIGHUP raise Interrupted in the main thread."""

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __enter__(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            raise Interrupted(signal.Signals(signum).name)

        self.saved = {s: signal.signal(s, handler) for s in self.SIGNALS}

    def __exit__(self, *exc: Any) -> None:
        for sig, previous in self.saved.items():
            signal.signal(sig, previous)
