"""`coupadl.lifecycle`: legal moves, illegal ones raising in tests and logged (then taken) in production."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from enum import StrEnum

import pytest
from structlog.testing import capture_logs

from coupadl import lifecycle
from coupadl.lifecycle import IllegalTransition, Lifecycle, StateMachine


class Door(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    LOCKED = "locked"


DOOR = Lifecycle(
    "door",
    {Door.OPEN: {Door.CLOSED}, Door.CLOSED: {Door.OPEN, Door.LOCKED}, Door.LOCKED: {Door.CLOSED}},
)


@pytest.fixture
def production() -> Iterator[None]:
    lifecycle.set_strict(False)
    try:
        yield
    finally:
        lifecycle.set_strict(True)


def test_the_tests_run_strict() -> None:
    assert lifecycle.is_strict()


def test_legal_moves_and_staying_put() -> None:
    door = StateMachine(DOOR, Door.OPEN, "front")
    for state in (Door.CLOSED, Door.LOCKED, Door.LOCKED, Door.CLOSED, Door.OPEN):
        assert door.to(state) is state
        assert door.state is state
    assert DOOR.successors(Door.CLOSED) == frozenset({Door.OPEN, Door.LOCKED})


def test_an_illegal_move_raises_in_tests_and_changes_nothing() -> None:
    door = StateMachine(DOOR, Door.OPEN, "front")
    with pytest.raises(IllegalTransition, match=r"^door front cannot go from open to locked$"):
        door.to(Door.LOCKED)
    assert door.state is Door.OPEN
    assert issubclass(IllegalTransition, ValueError)


def test_an_illegal_move_is_logged_and_taken_in_production(production: None) -> None:
    door = StateMachine(DOOR, Door.OPEN, "front")
    with capture_logs() as logs:
        assert door.to(Door.LOCKED) is Door.LOCKED
        door.to(Door.CLOSED)  # legal: nothing logged
    assert door.state is Door.CLOSED
    assert logs == [
        {
            "event": "lifecycle: illegal transition",
            "log_level": "error",
            "subject": "door front",
            "current": "open",
            "new": "locked",
        }
    ]


def test_a_table_must_cover_every_state_of_its_enum() -> None:
    with pytest.raises(ValueError, match="no transitions given for LOCKED"):
        Lifecycle("door", {Door.OPEN: {Door.CLOSED}, Door.CLOSED: {Door.OPEN}})

    class Other(StrEnum):
        X = "x"

    with pytest.raises(ValueError, match="is not a Door"):
        Lifecycle("door", {Door.OPEN: {Other.X}, Door.CLOSED: set(), Door.LOCKED: set()})


def test_a_state_machine_survives_pickling() -> None:
    import pickle

    door = StateMachine(DOOR, Door.CLOSED, "back")
    copy = pickle.loads(pickle.dumps(door))  # noqa: S301 - bytes made here
    assert (copy.state, copy.subject) == (Door.CLOSED, "back")
    copy.to(Door.OPEN)
    with pytest.raises(IllegalTransition):
        copy.to(Door.LOCKED)


def test_processes_the_tests_start_run_strict_too() -> None:
    # Pool workers are spawned: they do not run conftest, they inherit its environment variable.
    code = "from coupadl import lifecycle; print(lifecycle.is_strict())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "True"
    env = {k: v for k, v in os.environ.items() if k != lifecycle.STRICT_ENV}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    assert out.stdout.strip() == "False"  # production
