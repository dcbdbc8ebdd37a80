"""Lifecycles: a state enum, the transitions it allows, and the one way a stateful object changes state.

Every stateful class (the pool and its workers, the profile manager and its profiles, the browser session and
its task tab) holds its state in a `StateMachine` over a `Lifecycle`, and changes it only through
`StateMachine.to`. Staying in the same state is always allowed.

An illegal transition is a bug in the caller. In tests it raises `IllegalTransition` so the bug is found; in
production it is logged (`lifecycle: illegal transition`, error level) and the new state is taken anyway: the
caller moved because something really happened (a process died, a stop was asked), and refusing would leave
the object claiming a state the world is no longer in.

Strict mode (raise) is a test hook, not an operator setting: it is on when the environment variable
`COUPADL_TEST_STRICT_LIFECYCLE` is `1` at import (tests/conftest.py sets it before importing coupadl, and the
pool's spawned workers inherit it, so transitions inside workers are checked strictly too), and
`set_strict` changes it for this process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Generic, TypeVar

from coupadl.log import get_logger

__all__ = ["STRICT_ENV", "IllegalTransition", "Lifecycle", "StateMachine", "is_strict", "set_strict"]

S = TypeVar("S", bound=Enum)

STRICT_ENV = "COUPADL_TEST_STRICT_LIFECYCLE"

_strict = os.environ.get(STRICT_ENV) == "1"


def is_strict() -> bool:
    """True when an illegal transition raises (tests) rather than being logged (production)."""
    return _strict


def set_strict(strict: bool) -> None:
    """Make illegal transitions raise (True) or be logged (False) in this process."""
    global _strict
    _strict = strict


class IllegalTransition(ValueError):
    """A state change its lifecycle does not allow (raised only in strict mode)."""


class Lifecycle(Generic[S]):
    """The states of one kind of object and the transitions between them.

    Args:
        name: What the object is called in messages (`worker`, `pool`, `profile`, ...).
        transitions: For every state of the enum, the states it may move to (itself excepted: always allowed).

    Raises:
        ValueError: `transitions` leaves a state of the enum out, or names a state of another enum.
    """

    def __init__(self, name: str, transitions: Mapping[S, Iterable[S]]) -> None:
        self.name = name
        self._table: dict[S, frozenset[S]] = {state: frozenset(nexts) for state, nexts in transitions.items()}
        if not self._table:
            raise ValueError(f"{name}: a lifecycle needs states")
        enum_type = type(next(iter(self._table)))
        missing = [s.name for s in enum_type if s not in self._table]
        if missing:
            raise ValueError(f"{name}: no transitions given for {', '.join(missing)}")
        foreign = [s for nexts in self._table.values() for s in nexts if not isinstance(s, enum_type)]
        if foreign:
            raise ValueError(f"{name}: {foreign[0]!r} is not a {enum_type.__name__}")

    @property
    def states(self) -> tuple[S, ...]:
        """Every state, in the enum's order."""
        return tuple(type(next(iter(self._table))))

    def allows(self, current: S, new: S) -> bool:
        """True if `current → new` is allowed (staying put always is)."""
        return new is current or new in self._table[current]

    def successors(self, state: S) -> frozenset[S]:
        """The states `state` may move to."""
        return self._table[state]

    def check(self, current: S, new: S, subject: str = "") -> None:
        """Raise `IllegalTransition` (strict mode) or log an error unless `current → new` is allowed."""
        if self.allows(current, new):
            return
        who = f"{self.name} {subject}".strip()
        message = f"{who} cannot go from {current.value} to {new.value}"
        if _strict:
            raise IllegalTransition(message)
        get_logger("coupadl.lifecycle").error(
            "lifecycle: illegal transition", subject=who, current=str(current.value), new=str(new.value)
        )


class StateMachine(Generic[S]):
    """The current state of one object under a `Lifecycle`; `to` is the only way to change it.

    Args:
        lifecycle: The allowed transitions.
        initial: The state the object starts in.
        subject: Names this object in messages (e.g. `window B`).
    """

    __slots__ = ("lifecycle", "state", "subject")

    def __init__(self, lifecycle: Lifecycle[S], initial: S, subject: str = "") -> None:
        self.lifecycle = lifecycle
        self.state = initial
        self.subject = subject

    def to(self, new: S) -> S:
        """Move to `new` (see the module docstring for what an illegal move does); returns `new`."""
        self.lifecycle.check(self.state, new, self.subject)
        self.state = new
        return new

    def __getstate__(self) -> tuple[Lifecycle[S], S, str]:
        return self.lifecycle, self.state, self.subject

    def __setstate__(self, value: tuple[Lifecycle[S], S, str]) -> None:
        self.lifecycle, self.state, self.subject = value

    def __repr__(self) -> str:
        return f"StateMachine({self.lifecycle.name} {self.subject}: {self.state.value})".replace("  ", " ")
