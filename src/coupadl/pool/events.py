"""Events the pool emits for whoever watches it (progress display, progress store). The display never
reaches into worker internals; it only sees these.

One frozen dataclass per kind of event; `PoolEvent` is their union (generic over the handler's result, which
`TaskFinished` carries). Consumers tell them apart with `isinstance` or `match`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeAlias, TypeVar

from coupadl.browser.reports import WindowReport
from coupadl.pool.states import PoolState
from coupadl.pool.tasks import TaskOutcome

__all__ = [
    "MemoryChecked",
    "PoolEvent",
    "PoolFaulted",
    "PoolStateChanged",
    "SessionExpired",
    "TaskDispatched",
    "TaskFinished",
    "TaskRetrying",
    "TaskRunning",
    "TaskThrottled",
    "Tick",
    "WorkerCrashed",
    "WorkerFailed",
    "WorkerNotVerified",
    "WorkerRestarting",
    "WorkerVerified",
]

R = TypeVar("R")


@dataclass(frozen=True)
class PoolStateChanged:
    """The pool moved to `state`."""

    state: PoolState


@dataclass(frozen=True)
class Tick:
    """Emitted every `tick_interval` while the pool runs, so the caller can do periodic work."""


@dataclass(frozen=True)
class PoolFaulted:
    """A fault outside every task (a full disk) stopped the run."""

    reason: str


@dataclass(frozen=True)
class MemoryChecked:
    """The workers' memory, by worker id in bytes, as measured (`rss` first, `uss` when RSS is over)."""

    usage: dict[int, int]
    limit: int
    measure: Literal["rss", "uss"]


@dataclass(frozen=True)
class WorkerVerified:
    """The worker's window is verified and takes tasks."""

    worker_id: int
    report: WindowReport
    restarts: int


@dataclass(frozen=True)
class WorkerNotVerified:
    """The worker's window could not be verified; the worker exits (the pool decides on a restart)."""

    worker_id: int
    report: WindowReport
    reason: str


@dataclass(frozen=True)
class WorkerCrashed:
    """The worker's process, browser or driver died, or its task timed out."""

    worker_id: int
    reason: str


@dataclass(frozen=True)
class WorkerRestarting:
    """The worker is being started again (`reason`: `memory` for a deliberate restart between tasks)."""

    worker_id: int
    restarts: int
    reason: str = ""


@dataclass(frozen=True)
class WorkerFailed:
    """The pool gave the worker up for this run."""

    worker_id: int
    reason: str


@dataclass(frozen=True)
class TaskDispatched:
    """The task went to the worker (`attempt` counts from 1)."""

    worker_id: int
    task_id: str
    attempt: int


@dataclass(frozen=True)
class TaskRunning:
    """The worker took the task."""

    worker_id: int
    task_id: str


@dataclass(frozen=True)
class TaskRetrying:
    """The task failed and goes back to the queue."""

    worker_id: int | None
    task_id: str
    attempt: int
    error: str


@dataclass(frozen=True)
class TaskThrottled:
    """The site asked to slow down: the task goes back first and no worker takes one for `retry_after_s`."""

    worker_id: int
    task_id: str
    retry_after_s: float
    message: str


@dataclass(frozen=True)
class SessionExpired:
    """The worker's window is signed out: its task goes back without spending the attempt."""

    worker_id: int
    task_id: str
    message: str


@dataclass(frozen=True)
class TaskFinished(Generic[R]):
    """The task ended for this run: `outcome` holds the handler's result or the error."""

    outcome: TaskOutcome[R]

    @property
    def worker_id(self) -> int | None:
        """The worker that had the task last (None: it never reached one)."""
        return self.outcome.worker_id


PoolEvent: TypeAlias = (
    PoolStateChanged
    | Tick
    | PoolFaulted
    | MemoryChecked
    | WorkerVerified
    | WorkerNotVerified
    | WorkerCrashed
    | WorkerRestarting
    | WorkerFailed
    | TaskDispatched
    | TaskRunning
    | TaskRetrying
    | TaskThrottled
    | SessionExpired
    | TaskFinished[R]
)
"""Every event the pool emits (`PoolEvent[POResult]` for the Coupa job)."""
