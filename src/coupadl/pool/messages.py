"""What the supervisor and the worker processes say to each other (typed, frozen, picklable dataclasses).

Supervisor → worker (the worker's own inbox): `RunTask`, `Stop`.
Worker → supervisor (one shared outbox): `WorkerReady`, `WorkerUnverified`, `TaskStarted`, `TaskDone`,
`TaskError`. The supervisor is the only one that decides what happens to a task.

`RunTask` is generic over the task's payload and `TaskDone` over the handler's result (see
`coupadl.pool.tasks`); a window's report travels as the `WindowReport` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeAlias, TypeVar

from coupadl.browser.processes import TrackedProcess
from coupadl.browser.reports import WindowReport

__all__ = [
    "FailureKind",
    "RunTask",
    "Stop",
    "SupervisorMessage",
    "TaskDone",
    "TaskError",
    "TaskStarted",
    "WorkerMessage",
    "WorkerReady",
    "WorkerUnverified",
]

P = TypeVar("P")
R = TypeVar("R")


class FailureKind(StrEnum):
    """Why a task did not finish, which decides what the supervisor does next."""

    RETRYABLE = "retryable"  # try the task again (any worker)
    PERMANENT = "permanent"  # fail the task now
    SESSION_EXPIRED = "session_expired"  # the window is signed out: requeue, never fail the task
    WINDOW_CRASHED = "window_crashed"  # the browser died: restart the worker, requeue the task
    FATAL = "fatal"  # the machine failed (disk full, folder gone): no task can succeed; stop the whole run,
    # the task goes back untouched (its attempt does not count)
    THROTTLED = "throttled"  # retry after `retry_after_s` without spending the attempt; every worker waits


@dataclass(frozen=True)
class RunTask(Generic[P]):
    """Process one task in the window's task tab (a fresh one after any failure); `label` names it in the
    worker's log lines (the id when empty).

    `opens`: the address the task's first page opens on (`Task.opens`); `preload`: that of the task
    reserved for this worker next, to start loading in the spare tab before this task runs (empty: none).
    """

    task_id: str
    payload: P
    attempt: int
    label: str = ""
    opens: str = ""
    preload: str = ""


@dataclass(frozen=True)
class Stop:
    """Finish nothing more: close the browser, remove the clone, exit."""

    reason: str = "shutdown"


@dataclass(frozen=True)
class WorkerReady:
    """The worker's window is verified; `report` says how (methods, remediation steps)."""

    worker_id: int
    report: WindowReport
    processes: tuple[TrackedProcess, ...] = field(default_factory=tuple)
    profile_path: str = ""


@dataclass(frozen=True)
class WorkerUnverified:
    """The worker's window could not be verified (after remediation); the worker exits.

    `driver_fault`: the driver cannot drive this browser (mismatch, does not start): no window can work,
    and the fix is `coupadl driver`, not a sign-in.
    """

    worker_id: int
    report: WindowReport
    reason: str
    driver_fault: bool = False


@dataclass(frozen=True)
class TaskStarted:
    """The worker took the task."""

    worker_id: int
    task_id: str


@dataclass(frozen=True)
class TaskDone(Generic[R]):
    """The handler returned `result`."""

    worker_id: int
    task_id: str
    result: R
    duration_s: float


@dataclass(frozen=True)
class TaskError:
    """The handler (or the window under it) failed; `kind` says what to do (`retry_after_s`: for
    `THROTTLED`, how long no worker may take a task)."""

    worker_id: int
    task_id: str
    kind: FailureKind
    message: str
    retry_after_s: float = 0.0


SupervisorMessage: TypeAlias = RunTask[P] | Stop
"""What a worker's inbox carries."""

WorkerMessage: TypeAlias = WorkerReady | WorkerUnverified | TaskStarted | TaskDone[R] | TaskError
"""What the supervisor's outbox carries."""
