"""SIGTERM and SIGHUP become Interrupted inside the context, and the old handlers come back after."""

from __future__ import annotations

import os
import signal

import pytest

from drillbook.util.signals import Interrupted, Overrun, signals_raise_interrupted


def test_sigterm_raises_interrupted_naming_the_signal() -> None:
    with pytest.raises(Interrupted) as caught, signals_raise_interrupted():
        os.kill(os.getpid(), signal.SIGTERM)
    assert caught.value.args == ("SIGTERM",)


def test_the_previous_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGHUP)
    with signals_raise_interrupted():
        assert signal.getsignal(signal.SIGHUP) is not before
    assert signal.getsignal(signal.SIGHUP) is before


def test_an_overrun_is_an_interrupt_that_is_not_an_error() -> None:
    assert issubclass(Overrun, Interrupted) and not issubclass(Interrupted, Exception)
