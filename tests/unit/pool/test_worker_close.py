"""The worker's close: a second closer waits for the first, so an exit cannot cut the clone removal short."""

from __future__ import annotations

import threading
from typing import Any

from coupadl.log import get_logger
from coupadl.pool.worker import _WorkerRuntime


class _SlowWindow:
    """A window whose close blocks until released, recording the order of what happened."""

    def __init__(self, order: list[str], reenter: Any = None) -> None:
        self.order = order
        self.session = None
        self.release = threading.Event()
        self.entered = threading.Event()
        self.reenter = reenter

    def cancel(self) -> None:
        self.order.append("cancel")

    def cleanup(self, browser_pids: list[int]) -> None:
        self.order.append("cleanup")

    def close(self) -> None:
        self.entered.set()
        if self.reenter is not None:
            self.order.append(f"reentered:{self.reenter()}")
        assert self.release.wait(timeout=10)
        self.order.append("window closed")


def _runtime(window: _SlowWindow) -> _WorkerRuntime:
    runtime = _WorkerRuntime.__new__(_WorkerRuntime)  # no handler, no spec: only what close() reads
    runtime._closing = threading.Lock()
    runtime._closer = None
    runtime._closed = threading.Event()
    runtime.source = window  # type: ignore[assignment]
    runtime.log = get_logger("test")
    return runtime


def test_a_second_closer_returns_only_after_the_first_has_finished(monkeypatch: Any) -> None:
    monkeypatch.setattr("coupadl.pool.worker._end_own_descendants", list)
    order: list[str] = []
    window = _SlowWindow(order)
    runtime = _runtime(window)
    first = threading.Thread(target=runtime.close, name="watchdog")
    first.start()
    assert window.entered.wait(timeout=10)
    second_done = threading.Event()

    def second() -> None:
        assert runtime.close() is True
        order.append("second returned")
        second_done.set()

    threading.Thread(target=second, name="main").start()
    # The second closer is parked until the first finishes: release the first only now.
    assert not second_done.wait(timeout=0.2)
    window.release.set()
    assert second_done.wait(timeout=10)
    first.join(timeout=10)
    assert order == ["cancel", "window closed", "cleanup", "second returned"]


def test_a_close_re_entered_on_the_closing_thread_returns_false_at_once(monkeypatch: Any) -> None:
    monkeypatch.setattr("coupadl.pool.worker._end_own_descendants", list)
    order: list[str] = []
    holder: dict[str, _WorkerRuntime] = {}
    window = _SlowWindow(order, reenter=lambda: holder["runtime"].close())
    window.release.set()
    holder["runtime"] = runtime = _runtime(window)
    assert runtime.close() is True
    assert order == ["cancel", "reentered:False", "window closed", "cleanup"]
