"""What the supervisor and the worker processes say to each other (plain, picklable dataclasses).

Supervisor → worker (the worker's own inbox): `RunTask`, `Stop`.
Worker → supervisor (one shared outbox): `WorkerReady`, `WorkerUnverified`, `TaskStarted`, `TaskDone`,
`TaskError`. The supervisor is the only one that decides what happens to a task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from coupadl.browser.processes import TrackedProcess

__all__ = [
    "FailureKind",
    "RunTask",
    "Stop",
    "TaskDone",
    "TaskError",
    "TaskStarted",
    "WorkerReady",
    "WorkerUnverified",
]


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
class RunTask:
    """Process one task in the window's task tab (a fresh one after any failure)."""

    task_id: str
    payload: dict[str, Any]
    attempt: int


@dataclass(frozen=True)
class Stop:
    """Finish nothing more: close the browser, remove the clone, exit."""

    reason: str = "shutdown"


@dataclass(frozen=True)
class WorkerReady:
    """The worker's window is verified; `report` is its `WindowReport.to_dict()`."""

    worker_id: int
    report: dict[str, Any]
    processes: tuple[TrackedProcess, ...] = field(default_factory=tuple)
    profile_path: str = ""


@dataclass(frozen=True)
class WorkerUnverified:
    """The worker's window could not be verified (after remediation); the worker exits.

    `driver_fault`: the driver cannot drive this browser (mismatch, does not start): no window can work,
    and the fix is `coupadl driver`, not a sign-in.
    """

    worker_id: int
    report: dict[str, Any]
    reason: str
    driver_fault: bool = False


@dataclass(frozen=True)
class TaskStarted:
    """The worker took the task."""

    worker_id: int
    task_id: str


@dataclass(frozen=True)
class TaskDone:
    """The handler returned `result`."""

    worker_id: int
    task_id: str
    result: dict[str, Any]
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
