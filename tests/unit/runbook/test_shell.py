"""A shell step and interrupts: the step's processes never outlive the run that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from drillbook.runbook.shell import run_script
from drillbook.util.procfs import alive
from drillbook.util.signals import signals_raise_interrupted


def test_an_interrupt_while_bash_starts_stops_the_step(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Under load the signal can come after bash started but before Popen returned: bash still dies."""
    real, started = subprocess.Popen, []

    def popen_then_signal(*args: Any, **kwargs: Any) -> subprocess.Popen:
        proc = real(*args, **kwargs)
        started.append(proc)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler runs in here, before this Popen returns
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen_then_signal)
    with pytest.raises(KeyboardInterrupt), signals_raise_interrupted():
        run_script("sleep 30", cwd=tmp_path, env={"PATH": os.environ["PATH"]}, timeout=60,
                   on_line=lambda _: None, secrets=[])
    monkeypatch.undo()
    assert len(started) == 1
    bash = started[0]
    try:
        assert bash.poll() is not None or not alive(bash.pid, None)
    finally:
        os.killpg(bash.pid, signal.SIGKILL) if bash.poll() is None else None
        bash.wait(timeout=5)
