"""Lifecycles of the pool and its workers (seed 002), with the transitions each allows."""

from __future__ import annotations

from enum import Enum, StrEnum

__all__ = ["PoolState", "WorkerStatus", "check_transition"]


class PoolState(StrEnum):
    """`PersistentWorkerPool`: INITIALIZING → READY → PROCESSING → SHUTTING_DOWN → TERMINATED."""

    INITIALIZING = "initializing"
    READY = "ready"
    PROCESSING = "processing"
    SHUTTING_DOWN = "shutting_down"
    TERMINATED = "terminated"


class WorkerStatus(StrEnum):
    """`Worker`: STARTING → READY → PROCESSING → IDLE → TERMINATING → TERMINATED;
    CRASHED → RESTARTING → READY on recovery. FAILED: the window could not be verified or restarted."""

    STARTING = "starting"
    READY = "ready"
    PROCESSING = "processing"
    IDLE = "idle"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    CRASHED = "crashed"
    RESTARTING = "restarting"
    FAILED = "failed"


_POOL: dict[PoolState, frozenset[PoolState]] = {
    PoolState.INITIALIZING: frozenset({PoolState.READY, PoolState.SHUTTING_DOWN}),
    PoolState.READY: frozenset({PoolState.PROCESSING, PoolState.SHUTTING_DOWN}),
    PoolState.PROCESSING: frozenset({PoolState.SHUTTING_DOWN}),
    PoolState.SHUTTING_DOWN: frozenset({PoolState.TERMINATED}),
    PoolState.TERMINATED: frozenset(),
}

_WORKER: dict[WorkerStatus, frozenset[WorkerStatus]] = {
    WorkerStatus.STARTING: frozenset(
        {WorkerStatus.READY, WorkerStatus.CRASHED, WorkerStatus.FAILED, WorkerStatus.TERMINATING}
    ),
    WorkerStatus.READY: frozenset({WorkerStatus.PROCESSING, WorkerStatus.CRASHED, WorkerStatus.TERMINATING}),
    WorkerStatus.PROCESSING: frozenset({WorkerStatus.IDLE, WorkerStatus.CRASHED, WorkerStatus.TERMINATING}),
    WorkerStatus.IDLE: frozenset({WorkerStatus.PROCESSING, WorkerStatus.CRASHED, WorkerStatus.TERMINATING}),
    WorkerStatus.CRASHED: frozenset({WorkerStatus.RESTARTING, WorkerStatus.FAILED, WorkerStatus.TERMINATING}),
    WorkerStatus.RESTARTING: frozenset(
        {WorkerStatus.READY, WorkerStatus.CRASHED, WorkerStatus.FAILED, WorkerStatus.TERMINATING}
    ),
    WorkerStatus.TERMINATING: frozenset({WorkerStatus.TERMINATED, WorkerStatus.CRASHED}),
    WorkerStatus.TERMINATED: frozenset({WorkerStatus.RESTARTING}),  # a deliberate stop for a memory restart
    WorkerStatus.FAILED: frozenset({WorkerStatus.TERMINATING, WorkerStatus.TERMINATED}),
}


def check_transition(current: Enum, new: Enum) -> None:
    """Raise `ValueError` unless `current → new` is allowed for its lifecycle."""
    table: dict = _POOL if isinstance(current, PoolState) else _WORKER  # type: ignore[type-arg]
    if new is not current and new not in table[current]:
        raise ValueError(f"{type(current).__name__} cannot go from {current.value} to {new.value}")
