"""The profile manager's and the worker profile's lifecycles: the seed's paths, the failure and restart paths,
and an illegal move raising (logged in production)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from coupadl import lifecycle
from coupadl.lifecycle import IllegalTransition
from coupadl.profiles.models import (
    MANAGER_LIFECYCLE,
    PROFILE_LIFECYCLE,
    ProfileManagerState,
    ProfileState,
    ProfileType,
    WorkerProfile,
)

P = ProfileState

PROFILE_PATHS = {
    "seed": [P.CREATING, P.READY, P.VERIFIED, P.IN_USE, P.CLEANUP, P.DESTROYED],
    "failed copy": [P.CREATING, P.CLEANUP, P.DESTROYED],
    "never verified": [P.READY, P.CLEANUP],
    "restarted window verifies again": [P.IN_USE, P.READY, P.VERIFIED, P.IN_USE],
    "re-verified before use": [P.VERIFIED, P.READY, P.VERIFIED],
    "shutdown while in use": [P.IN_USE, P.CLEANUP],
}


@pytest.mark.parametrize("path", PROFILE_PATHS.values(), ids=PROFILE_PATHS.keys())
def test_profile_paths_are_legal(path: list[ProfileState]) -> None:
    for current, new in itertools.pairwise(path):
        assert PROFILE_LIFECYCLE.allows(current, new), (current, new)


def test_manager_paths() -> None:
    m = ProfileManagerState
    for path in ([m.INITIALIZED, m.ACTIVE, m.SHUTDOWN], [m.INITIALIZED, m.SHUTDOWN]):
        for current, new in itertools.pairwise(path):
            assert MANAGER_LIFECYCLE.allows(current, new)
    assert not MANAGER_LIFECYCLE.allows(m.SHUTDOWN, m.ACTIVE)
    assert not MANAGER_LIFECYCLE.allows(m.ACTIVE, m.INITIALIZED)


def test_a_destroyed_profile_never_comes_back(tmp_path: Path) -> None:
    profile = WorkerProfile(3, ProfileType.CLONE, tmp_path)
    for state in (P.READY, P.CLEANUP, P.DESTROYED):
        profile.transition(state)
    for state in ProfileState:
        assert PROFILE_LIFECYCLE.allows(P.DESTROYED, state) is (state is P.DESTROYED)
    with pytest.raises(IllegalTransition, match="profile of worker 3 cannot go from destroyed to ready"):
        profile.transition(P.READY)
    assert profile.state is P.DESTROYED


def test_state_is_read_only(tmp_path: Path) -> None:
    profile = WorkerProfile(3, ProfileType.CLONE, tmp_path)
    with pytest.raises(AttributeError):
        profile.state = P.READY  # type: ignore[misc]


def test_production_logs_an_illegal_move_and_takes_it(tmp_path: Path) -> None:
    profile = WorkerProfile(3, ProfileType.CLONE, tmp_path)
    lifecycle.set_strict(False)
    try:
        with capture_logs() as logs:
            profile.transition(P.IN_USE)
    finally:
        lifecycle.set_strict(True)
    assert profile.state is P.IN_USE
    assert [(e["event"], e["current"], e["new"]) for e in logs] == [
        ("lifecycle: illegal transition", "creating", "in_use")
    ]
