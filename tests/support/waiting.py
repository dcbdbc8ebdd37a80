"""Waiting on conditions in tests, never on fixed sleeps.

`wait_for` polls a condition until it holds or a deadline passes, then fails the test naming what it waited
for. A slow machine makes a test slower, never wrong: the deadline is a bound on a failure, not a guess at
how long something takes. For "nothing happened" assertions, wait for a later event that proves the time
window passed (e.g. the page's own request that follows the click), then assert.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import psutil
import pytest

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str, timeout: float = 10.0, step: float = 0.05) -> T:
    """Return `condition()`'s first truthy value, polling every `step` s; fail the test after `timeout` s.

    Args:
        condition: Called until it returns something truthy.
        what: What is awaited, for the failure message ("2 file requests").
        timeout: Seconds before the test fails.
        step: Seconds between two calls.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}; last seen: {value!r}")
        time.sleep(step)


def running(proc: psutil.Process) -> bool:
    """True while `proc` (the very process, not a reuse of its PID) runs; a zombie awaiting its reaper
    does not run."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(procs: Iterable[psutil.Process], what: str, timeout: float = 15.0) -> None:
    """Wait until none of `procs` runs (ended or a zombie: see `running`); fail the test naming those left.

    `psutil.wait_procs` alone would wait out its timeout on a zombie whose parent (init in a container)
    does not reap it, so this polls `running` instead.
    """
    procs = list(procs)
    wait_for(lambda: not [p.pid for p in procs if running(p)], what, timeout=timeout)
