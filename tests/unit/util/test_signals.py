"""SIGTERM and SIGHUP become Interrupted inside the context, SIGINT KeyboardInterrupt whatever drillbook
inherited, and the old handlers come back after."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from drillbook.util import signals
from drillbook.util.signals import (
    Interrupted,
    Overrun,
    claim_sigint,
    held,
    interruption,
    signals_raise_interrupted,
)


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
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)


def test_a_signal_while_held_is_kept_for_the_caller_not_raised() -> None:
    with signals_raise_interrupted(), held() as hold:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
        assert hold.arrived == [signal.SIGTERM]
        with pytest.raises(Interrupted, match="SIGTERM"):  # released: the signal that came is raised
            hold.release()
        with pytest.raises(Interrupted):  # and a new one raises again
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)


def test_each_stop_signal_raises_what_the_layers_above_catch() -> None:
    assert isinstance(interruption(signal.SIGINT), KeyboardInterrupt)
    assert interruption(signal.SIGHUP).args == ("SIGHUP",) and isinstance(interruption(signal.SIGHUP), Interrupted)


def test_only_the_main_thread_holds_signals() -> None:
    seen: list[list[int]] = []

    def other() -> None:
        with held() as hold:
            seen.append(hold.arrived)
            done.wait(5)

    done = threading.Event()
    thread = threading.Thread(target=other)
    with pytest.raises(Interrupted), signals_raise_interrupted():
        thread.start()
        while not seen:
            time.sleep(0.01)
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # another thread holding must not delay this one
            time.sleep(5)
        finally:
            done.set()
            thread.join()
    assert seen == [[]]


def test_the_first_stop_signal_is_remembered_for_the_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "_RECEIVED", signals._Received())
    assert signals.stop_signal() is None
    with pytest.raises(Interrupted), signals_raise_interrupted():
        os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), signals_raise_interrupted():
        os.kill(os.getpid(), signal.SIGINT)
    assert signals.stop_signal() == signal.SIGTERM


def test_a_held_signal_is_remembered_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "_RECEIVED", signals._Received())
    with pytest.raises(KeyboardInterrupt), signals_raise_interrupted(), held() as kept:
        os.kill(os.getpid(), signal.SIGINT)
        kept.release()
    assert signals.stop_signal() == signal.SIGINT
