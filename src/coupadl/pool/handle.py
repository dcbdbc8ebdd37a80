"""`WorkerHandle`: the supervisor's view of one worker process (its process, inbox, task and lifecycle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from typing import Generic, TypeVar

from coupadl.browser.processes import TrackedProcess
from coupadl.browser.reports import WindowReport
from coupadl.lifecycle import StateMachine
from coupadl.pool.messages import SupervisorMessage
from coupadl.pool.states import WORKER_LIFECYCLE, WorkerStatus
from coupadl.pool.tasks import Task
from coupadl.pool.worker import WorkerSpec

__all__ = ["WorkerHandle"]

P = TypeVar("P")


@dataclass
class WorkerHandle(Generic[P]):
    """The supervisor's view of one worker process."""

    worker_id: int
    spec: WorkerSpec
    process: SpawnProcess | None = None
    inbox: Queue[SupervisorMessage[P]] | None = None
    task: Task[P] | None = None
    task_started: float = 0.0
    reserved: Task[P] | None = None  # its next task, its page already loading in the spare tab
    tracked: tuple[TrackedProcess, ...] = ()
    report: WindowReport | None = None
    restarts: int = 0
    processed: int = 0
    expired_restarts: int = 0
    restart_after_task: bool = False
    stop_reason: str = ""
    _state: StateMachine[WorkerStatus] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._state = StateMachine(WORKER_LIFECYCLE, WorkerStatus.STARTING, f"window {self.spec.letter}")

    @property
    def status(self) -> WorkerStatus:
        """Where the worker is in its lifecycle; changed only through `set`."""
        return self._state.state

    def set(self, status: WorkerStatus) -> None:
        """Move to `status` (checked against `WORKER_LIFECYCLE`)."""
        self._state.to(status)

    def all_processes(self) -> list[TrackedProcess | None]:
        """The worker process itself and the browser and driver processes it reported."""
        pid = getattr(self.process, "pid", None)
        return [TrackedProcess.of(pid, "worker") if pid else None, *self.tracked]
