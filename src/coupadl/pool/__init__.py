"""The persistent worker pool: long-lived worker processes, one verified browser and task tab each.

The names below are imported on first use (PEP 562): a spawned worker imports `coupadl.pool.worker`, and with
it this package, but needs none of the supervisor's modules (`pool`, `handle`, `recovery`, `events`, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coupadl.lean_imports import lazy_names

if TYPE_CHECKING:
    from coupadl.pool.events import PoolEvent
    from coupadl.pool.pool import PersistentWorkerPool, PoolConfig, default_worker_specs
    from coupadl.pool.states import PoolState, WorkerStatus
    from coupadl.pool.tasks import Task, TaskHandler, TaskOutcome
    from coupadl.pool.worker import WorkerSpec

__all__ = [
    "PersistentWorkerPool",
    "PoolConfig",
    "PoolEvent",
    "PoolState",
    "Task",
    "TaskHandler",
    "TaskOutcome",
    "WorkerSpec",
    "WorkerStatus",
    "default_worker_specs",
]

_HOMES = {
    "PersistentWorkerPool": "coupadl.pool.pool",
    "PoolConfig": "coupadl.pool.pool",
    "PoolEvent": "coupadl.pool.events",
    "PoolState": "coupadl.pool.states",
    "Task": "coupadl.pool.tasks",
    "TaskHandler": "coupadl.pool.tasks",
    "TaskOutcome": "coupadl.pool.tasks",
    "WorkerSpec": "coupadl.pool.worker",
    "WorkerStatus": "coupadl.pool.states",
    "default_worker_specs": "coupadl.pool.pool",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES)
