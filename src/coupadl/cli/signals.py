"""Where Ctrl+C and SIGTERM go while a command runs.

Both are installed explicitly, never inherited: a process started in the background of a shell script
inherits SIGINT *ignored*, and Python then installs no handler of its own, so without this a `kill -INT`
would do nothing although the command says "Ctrl+C cancels".
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["interrupt_on_signals", "stop_on_signals"]

_Handler = Callable[[int, FrameType | None], object]


@contextmanager
def _routed(handler: _Handler) -> Iterator[None]:
    handled = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {sig: signal.getsignal(sig) for sig in handled}
    for sig in handled:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def stop_on_signals(on_signal: Callable[[], object]) -> Iterator[None]:
    """Route Ctrl+C and SIGTERM to `on_signal` (first: drain, second: force) instead of raising."""
    with _routed(lambda _sig, _frame: on_signal()):
        yield


def _raise_interrupt(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Ctrl+C and SIGTERM raise `KeyboardInterrupt` (so `finally` blocks close what the command opened)."""
    with _routed(_raise_interrupt):
        yield
