"""SIGTERM and SIGHUP become Interrupted inside the context, SIGINT KeyboardInterrupt whatever drillbook
inherited, and the old handlers come back after."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from drillbook.util.signals import Interrupted, Overrun, claim_sigint, signals_raise_interrupted


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


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored, as a shell leaves it for a background job (and everything that job starts)."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("sigint_ignored")
def test_sigint_stops_a_run_even_when_drillbook_was_started_with_it_ignored() -> None:
    with pytest.raises(KeyboardInterrupt), signals_raise_interrupted():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler runs before the sleep ends: the signal is never lost
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # restored as it was inherited


@pytest.mark.usefixtures("sigint_ignored")
def test_sigint_is_claimed_from_the_start_of_the_command() -> None:
    claim_sigint()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
