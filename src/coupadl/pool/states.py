"""Lifecycles of the pool and its workers (seed 002): states and allowed transitions (`coupadl.lifecycle`)."""

from __future__ import annotations

from enum import Enum, StrEnum

from coupadl.lifecycle import Lifecycle

__all__ = ["POOL_LIFECYCLE", "WORKER_LIFECYCLE", "PoolState", "WorkerStatus", "check_transition"]


class PoolState(StrEnum):
    """`PersistentWorkerPool`: INITIALIZING → READY → PROCESSING → SHUTTING_DOWN → TERMINATED.

    SHUTTING_DOWN may come from any state but TERMINATED (`close()` ends a pool wherever it is, e.g. one whose
    windows never started). Every state is entered.
    """

    INITIALIZING = "initializing"
    READY = "ready"
    PROCESSING = "processing"
    SHUTTING_DOWN = "shutting_down"
    TERMINATED = "terminated"


class WorkerStatus(StrEnum):
    """`Worker`: STARTING → READY → PROCESSING → IDLE → TERMINATING → TERMINATED;
    CRASHED → RESTARTING → READY on recovery. FAILED: the window could not be verified or restarted.

    Besides the seed's paths, the table allows what really happens:

    * a crash (CRASHED) from any live state, TERMINATING included: a window may die during a stop;
    * TERMINATED from any state but FAILED when the pool closes (`close()` ends what is left by PID: a worker
      still starting, busy or restarting is terminated there, not first asked to stop);
    * FAILED from STARTING/RESTARTING (never verified) and from CRASHED (out of restarts, or stopping);
    * TERMINATED → RESTARTING: a deliberate stop for a memory restart.

    Every state is entered.
    """

    STARTING = "starting"
    READY = "ready"
    PROCESSING = "processing"
    IDLE = "idle"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    CRASHED = "crashed"
    RESTARTING = "restarting"
    FAILED = "failed"


POOL_LIFECYCLE: Lifecycle[PoolState] = Lifecycle(
    "pool",
    {
        PoolState.INITIALIZING: {PoolState.READY, PoolState.SHUTTING_DOWN},
        PoolState.READY: {PoolState.PROCESSING, PoolState.SHUTTING_DOWN},
        PoolState.PROCESSING: {PoolState.SHUTTING_DOWN},
        PoolState.SHUTTING_DOWN: {PoolState.TERMINATED},
        PoolState.TERMINATED: set(),
    },
)

_W = WorkerStatus
WORKER_LIFECYCLE: Lifecycle[WorkerStatus] = Lifecycle(
    "worker",
    {
        _W.STARTING: {_W.READY, _W.CRASHED, _W.FAILED, _W.TERMINATING, _W.TERMINATED},
        _W.READY: {_W.PROCESSING, _W.CRASHED, _W.TERMINATING, _W.TERMINATED},
        _W.PROCESSING: {_W.IDLE, _W.CRASHED, _W.TERMINATING, _W.TERMINATED},
        _W.IDLE: {_W.PROCESSING, _W.CRASHED, _W.TERMINATING, _W.TERMINATED},
        _W.CRASHED: {_W.RESTARTING, _W.FAILED, _W.TERMINATING, _W.TERMINATED},
        _W.RESTARTING: {_W.READY, _W.CRASHED, _W.FAILED, _W.TERMINATING, _W.TERMINATED},
        _W.TERMINATING: {_W.TERMINATED, _W.CRASHED},
        _W.TERMINATED: {_W.RESTARTING},
        _W.FAILED: {_W.TERMINATING, _W.TERMINATED},
    },
)


def check_transition(current: Enum, new: Enum) -> None:
    """Check `current → new` against the pool's or the worker's lifecycle (see `Lifecycle.check`)."""
    if isinstance(current, PoolState) and isinstance(new, PoolState):
        POOL_LIFECYCLE.check(current, new)
    elif isinstance(current, WorkerStatus) and isinstance(new, WorkerStatus):
        WORKER_LIFECYCLE.check(current, new)
    else:
        raise TypeError(f"not a pool or worker state pair: {current!r}, {new!r}")
