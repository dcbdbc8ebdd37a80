"""Ctrl+C and SIGTERM reach the command even when the process inherited SIGINT ignored."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from coupadl.cli.signals import interrupt_on_signals, stop_on_signals


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """Like a process started with `&` from a shell script: SIGINT ignored before the command runs."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.usefixtures("sigint_ignored")
def test_interrupt_raises_on_either_signal_and_puts_the_handlers_back(sig: signal.Signals) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(KeyboardInterrupt), interrupt_on_signals():
        os.kill(os.getpid(), sig)
        pytest.fail("the signal did not interrupt")
    assert {s: signal.getsignal(s) for s in before} == before
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


@pytest.mark.usefixtures("sigint_ignored")
def test_stop_routes_each_signal_to_the_callback_without_raising() -> None:
    calls: list[str] = []
    with stop_on_signals(lambda: calls.append("stop")):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
    assert calls == ["stop", "stop"]
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
