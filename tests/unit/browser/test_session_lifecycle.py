"""The browser session's and the task tab's lifecycles (tables only; the states in a real browser are
covered by tests/integration/test_task_tabs.py and test_verified_windows.py)."""

from __future__ import annotations

import itertools

import pytest

from coupadl.browser.states import SESSION_LIFECYCLE, TAB_LIFECYCLE, SessionState, TabStatus
from coupadl.lifecycle import IllegalTransition

S, T = SessionState, TabStatus

SESSION_PATHS = {
    "seed": [S.INITIALIZING, S.AUTHENTICATED, S.ACTIVE, S.CLOSING, S.CLOSED],
    "seed recovery": [S.ACTIVE, S.ERROR, S.RECOVERING, S.ACTIVE],
    "quit unverified": [S.INITIALIZING, S.CLOSING, S.CLOSED],
    "quit verified, never used": [S.AUTHENTICATED, S.CLOSING],
}
TAB_PATHS = {
    "seed": [T.OPENING, T.LOADING, T.PROCESSING, T.COMPLETED, T.CLOSING, T.CLOSED],
    "two pages in one task": [T.OPENING, T.LOADING, T.PROCESSING, T.LOADING, T.PROCESSING, T.COMPLETED],
    "a failed load, then a good one": [T.LOADING, T.ERROR, T.LOADING, T.PROCESSING],
    "a failed load the task survives": [T.LOADING, T.ERROR, T.COMPLETED],
    "the task raises after a failed load": [T.LOADING, T.ERROR, T.FAILED],
    "the task raises mid-load": [T.OPENING, T.LOADING, T.FAILED],
    "the task raises before any load": [T.OPENING, T.FAILED],
    "the task returns without a load": [T.OPENING, T.COMPLETED],
}


@pytest.mark.parametrize("path", SESSION_PATHS.values(), ids=SESSION_PATHS.keys())
def test_session_paths_are_legal(path: list[SessionState]) -> None:
    for current, new in itertools.pairwise(path):
        assert SESSION_LIFECYCLE.allows(current, new), (current, new)


@pytest.mark.parametrize("path", TAB_PATHS.values(), ids=TAB_PATHS.keys())
def test_tab_paths_are_legal(path: list[TabStatus]) -> None:
    for current, new in itertools.pairwise(path):
        assert TAB_LIFECYCLE.allows(current, new), (current, new)


def test_every_session_state_can_be_quit_and_a_closed_one_stays_closed() -> None:
    for state in SessionState:
        if state not in (S.CLOSING, S.CLOSED):
            assert SESSION_LIFECYCLE.allows(state, S.CLOSING), state
    assert SESSION_LIFECYCLE.successors(S.CLOSED) == frozenset()


@pytest.mark.parametrize(
    ("current", "new"),
    [(T.COMPLETED, T.LOADING), (T.FAILED, T.PROCESSING), (T.OPENING, T.PROCESSING), (T.ERROR, T.PROCESSING)],
)
def test_a_finished_or_unloaded_tab_cannot_be_read(current: TabStatus, new: TabStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"cannot go from {current.value} to {new.value}"):
        TAB_LIFECYCLE.check(current, new)


def test_an_active_session_is_not_authenticated_again() -> None:
    with pytest.raises(IllegalTransition):
        SESSION_LIFECYCLE.check(S.ACTIVE, S.AUTHENTICATED)
