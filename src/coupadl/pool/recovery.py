"""What the supervisor does when a worker fails: the worker-failure half of `PersistentWorkerPool`.

* a worker whose browser, driver or process dies is restarted with the same profile (at most `max_restarts`
  times); its task goes back to the queue for any worker; a task is failed only after `max_task_attempts`;
* a task that runs longer than `task_timeout` has its worker's process tree ended and is treated the same way;
* a signed-out window (session expired) gets one restart; a second expiry gives it up;
* memory above `memory_threshold` of RAM: the heaviest worker is restarted between two of its tasks;
* a worker given up is ended by PID and its task goes back to the queue.

A mixin: it works on the pool's own state (`workers`, `config`) and calls back into the pool for what belongs
to the run (`_spawn`, `_pump`, `_emit`, `_retry_or_fail`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from coupadl.browser.processes import end_trees
from coupadl.pool.events import MemoryChecked, PoolEvent, WorkerCrashed, WorkerFailed, WorkerRestarting
from coupadl.pool.handle import WorkerHandle
from coupadl.pool.memory import MemoryGuard
from coupadl.pool.messages import Stop
from coupadl.pool.states import WorkerStatus
from coupadl.pool.tasks import Task

if TYPE_CHECKING:
    from coupadl.pool.pool import PoolConfig

__all__ = ["WorkerRecovery"]

P = TypeVar("P")
R = TypeVar("R")

_LIVE = (WorkerStatus.READY, WorkerStatus.IDLE, WorkerStatus.PROCESSING)


class WorkerRecovery(Generic[P, R]):
    """Reaps dead workers, restarts or gives them up, ends tasks that take too long, guards memory."""

    config: PoolConfig
    workers: dict[int, WorkerHandle[P]]
    log: Any
    _stop_requested: bool
    _memory: MemoryGuard

    # --- provided by the pool -------------------------------------------------------------------------

    def _spawn(self, worker: WorkerHandle[P]) -> None:
        raise NotImplementedError

    def _pump(self, timeout: float) -> None:
        raise NotImplementedError

    def _emit(self, event: PoolEvent[R]) -> None:
        raise NotImplementedError

    def _retry_or_fail(
        self, task: Task[P], worker_id: int | None, error: str, *, permanent: bool = False
    ) -> None:
        raise NotImplementedError

    # --- failures ---------------------------------------------------------------------------------------

    def _reap_dead(self) -> None:
        for worker in self.workers.values():
            proc = worker.process
            if proc is None or proc.is_alive():
                continue
            if worker.status in (WorkerStatus.TERMINATED, WorkerStatus.FAILED):
                continue
            self._pump(timeout=0.0)  # its last words (TaskError / WorkerUnverified) may still be queued
            proc.join(timeout=1)
            end_trees(worker.tracked, timeout=3.0)  # an orphaned driver/browser holds the profile
            if worker.status is WorkerStatus.TERMINATING:
                worker.set(WorkerStatus.TERMINATED)
                continue
            if worker.status in (WorkerStatus.STARTING, WorkerStatus.RESTARTING) and worker.stop_reason:
                # Unverified (e.g. signed out) after a restart too: restarting again would not help.
                self._give_up(worker, worker.stop_reason)
                continue
            self._recover(worker, f"worker process ended (exit code {proc.exitcode})")

    def _recover(self, worker: WorkerHandle[P], reason: str) -> None:
        """Restart a crashed worker with the same profile and hand its task back to the queue."""
        self.log.warning("worker crashed", window=worker.spec.letter, reason=reason)
        task = worker.task
        worker.task = None
        worker.set(WorkerStatus.CRASHED)
        self._emit(WorkerCrashed(worker.worker_id, reason))
        if task is not None:
            self._retry_or_fail(task, worker.worker_id, f"window lost while processing: {reason}")
        if self._stop_requested:
            self._give_up(worker, reason)
        elif worker.expired_restarts > 1:
            self._give_up(worker, "signed out: the session expired (sign in again with `coupadl login`)")
        elif worker.restarts >= self.config.max_restarts:
            self._give_up(worker, f"{reason}; restarted {worker.restarts} times already")
        else:
            worker.restarts += 1
            worker.set(WorkerStatus.RESTARTING)
            self._emit(WorkerRestarting(worker.worker_id, worker.restarts))
            self._spawn(worker)

    def _give_up(self, worker: WorkerHandle[P], reason: str) -> None:
        worker.stop_reason = worker.stop_reason or reason
        if worker.process is not None and worker.process.is_alive():
            end_trees(worker.all_processes(), timeout=3.0)
        worker.set(WorkerStatus.FAILED)
        if worker.task is not None:
            task, worker.task = worker.task, None
            self._retry_or_fail(task, worker.worker_id, reason)
        self._emit(WorkerFailed(worker.worker_id, worker.stop_reason))

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.task is not None and now - worker.task_started > self.config.task_timeout:
                self.log.warning("task timed out", window=worker.spec.letter, task=worker.task.task_id)
                end_trees(worker.all_processes(), timeout=3.0)
                if worker.process is not None:
                    worker.process.join(timeout=5)
                self._recover(worker, f"task took longer than {self.config.task_timeout:.0f} s")

    # --- memory -----------------------------------------------------------------------------------------

    def _guard_memory(self) -> None:
        live = {w.worker_id: w.all_processes() for w in self.workers.values() if w.status in _LIVE}
        reading = self._memory.check(time.monotonic(), live)
        if reading is None:
            return
        verdict = reading.verdict
        self._emit(MemoryChecked(reading.usage, verdict.limit, reading.measure))
        if verdict.over and verdict.heaviest is not None:
            heavy = self.workers[verdict.heaviest]
            if not heavy.restart_after_task:
                self.log.warning(
                    "memory above threshold; restarting the heaviest worker",
                    window=heavy.spec.letter,
                    used=verdict.used,
                    limit=verdict.limit,
                )
                heavy.restart_after_task = True

    def _restart_deliberately(self, worker: WorkerHandle[P]) -> None:
        """Memory restart between tasks: stop the worker cleanly, then start it again."""
        process, inbox = worker.process, worker.inbox
        assert process is not None and inbox is not None, "a worker between tasks has its process"
        worker.restart_after_task = False
        worker.set(WorkerStatus.TERMINATING)
        inbox.put(Stop("memory"))
        process.join(timeout=30)
        if process.is_alive():
            end_trees(worker.all_processes(), timeout=3.0)
            process.join(timeout=5)
        worker.set(WorkerStatus.TERMINATED)
        worker.restarts += 1
        worker.set(WorkerStatus.RESTARTING)
        self._emit(WorkerRestarting(worker.worker_id, worker.restarts, reason="memory"))
        self._spawn(worker)
