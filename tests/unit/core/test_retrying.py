"""`coupadl.retrying`: exponential backoff bounded by its maximum, jitter within ±20 % around it."""

from __future__ import annotations

import pytest

from coupadl.retrying import JITTER, backoff, delay_before, wait_jittered


def test_exponential_backoff_doubles_up_to_the_maximum() -> None:
    wait = backoff(0.5, 5.0)
    assert [delay_before(wait, n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_fixed_backoff_waits_the_base_every_time() -> None:
    wait = backoff(0.3, 5.0, exponential=False)
    assert [delay_before(wait, n) for n in range(1, 4)] == [0.3, 0.3, 0.3]


def test_jitter_stays_within_its_spread_around_the_plain_delay() -> None:
    plain, jittered = backoff(0.5, 5.0), backoff(0.5, 5.0, jitter=True)
    for n in range(1, 7):
        expected = delay_before(plain, n)
        seen = {delay_before(jittered, n) for _ in range(50)}
        assert all(expected * (1 - JITTER) <= d <= expected * (1 + JITTER) for d in seen)
        assert len(seen) > 1  # it does vary


def test_jitter_spread_is_validated() -> None:
    with pytest.raises(ValueError, match="spread"):
        wait_jittered(backoff(1.0, 1.0), spread=1.0)
