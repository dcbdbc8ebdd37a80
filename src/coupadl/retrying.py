"""The one retry convention: tenacity, with bounded attempts and exponential backoff with jitter.

Backoff before retry n (1-based) is `base * 2**(n-1)`, at most `maximum` (or `base` every time without
`exponential`); with jitter it is multiplied by a random factor in [1 - JITTER, 1 + JITTER], so the mean
stays the un-jittered delay and many windows retrying at once spread out. Callers that loop through steps of
different kinds (the remediation ladder) take the delay from `delay_before` with the same wait strategy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_fixed,
)
from tenacity.wait import wait_base

__all__ = ["JITTER", "backoff", "delay_before", "tries", "wait_jittered"]

JITTER = 0.2


class wait_jittered(wait_base):  # noqa: N801 - named like tenacity's own wait strategies
    """`inner`'s wait multiplied by a random factor in [1 - spread, 1 + spread]."""

    def __init__(self, inner: wait_base, spread: float = JITTER) -> None:
        if not 0 <= spread < 1:
            raise ValueError(f"spread must be within [0, 1), got {spread}")
        self.inner = inner
        self.spread = spread

    def __call__(self, retry_state: RetryCallState) -> float:
        return float(self.inner(retry_state)) * random.uniform(1 - self.spread, 1 + self.spread)


def backoff(base: float, maximum: float, *, exponential: bool = True, jitter: bool = False) -> wait_base:
    """The wait strategy of the convention (see the module docstring)."""
    wait: wait_base = wait_exponential(multiplier=base, max=maximum) if exponential else wait_fixed(base)
    return wait_jittered(wait) if jitter else wait


def delay_before(wait: wait_base, retry: int) -> float:
    """What `wait` waits before retry number `retry` (1-based: after the first failed attempt)."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = retry
    return float(wait(state))


def tries(
    max_attempts: int,
    wait: wait_base,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    *,
    before_sleep: Callable[[RetryCallState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Retrying:
    """At most `max_attempts` tries (`for attempt in tries(...): with attempt: ...`), again only after
    `retry_on`, waiting `wait` between them; the last error is raised as it is (no `RetryError`)."""
    return Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=wait,
        retry=retry_if_exception_type(retry_on),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
