"""The persistent worker pool: long-lived worker processes, one verified browser and task tab each."""

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
