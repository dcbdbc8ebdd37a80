"""`PersistentWorkerPool`: the supervisor of 1..8 long-lived worker processes (seed 002).

Long because the supervisor's loop, its dispatch and its handling of every worker message share one state on
one thread; worker failures (`recovery`), pacing (`pacing`), memory (`memory`) and the handle are apart.

The supervisor (this process) alone decides where each task goes and what happens when something fails; it
knows at every moment which task each worker holds. Crash recovery is "reclaim what was in flight": what
happens to a failed worker is in `coupadl.pool.recovery`; here is what happens to its tasks:

* a task in flight on a worker that crashed or timed out goes back to the queue for any worker; it is failed
  only after `max_task_attempts`. A signed-out window's task goes back without counting an attempt. When no
  worker is left, the remaining tasks stay pending — never failed;
* a throttled task (the handler said "retry after S seconds") goes back to the front of the queue without
  counting an attempt; no worker gets a task for S seconds, then tasks are paced (`coupadl.pool.pacing`);
* a fault outside every task (`FailureKind.FATAL` from a worker, or `abort()` from the caller, e.g. a full
  disk) stops the run at once: nothing more is handed out, tasks in flight go back unfinished, and `fault`
  says why.

While `run` works it emits a `Tick` event every `tick_interval` seconds, so the caller can do periodic work
(e.g. rewrite a results file) on the supervisor's thread.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any, TypeVar

from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.processes import end_trees
from coupadl.browser.reports import WindowReport
from coupadl.errors import DriverError
from coupadl.lifecycle import StateMachine
from coupadl.log import get_logger
from coupadl.pool.events import (
    PoolEvent,
    PoolFaulted,
    PoolStateChanged,
    SessionExpired,
    TaskDispatched,
    TaskFinished,
    TaskRetrying,
    TaskRunning,
    TaskThrottled,
    Tick,
    WorkerNotVerified,
    WorkerVerified,
)
from coupadl.pool.handle import WorkerHandle
from coupadl.pool.memory import MemoryGuard
from coupadl.pool.messages import (
    FailureKind,
    RunTask,
    Stop,
    TaskDone,
    TaskError,
    TaskStarted,
    WorkerMessage,
    WorkerReady,
    WorkerUnverified,
)
from coupadl.pool.pacing import ThrottlePacing
from coupadl.pool.recovery import WorkerRecovery
from coupadl.pool.sources import RemoteWindowSetup
from coupadl.pool.states import POOL_LIFECYCLE, PoolState, WorkerStatus
from coupadl.pool.tasks import Task, TaskOutcome
from coupadl.pool.worker import WorkerSpec, worker_main
from coupadl.profiles.models import ProfileType, VerificationConfig, window_letter

__all__ = ["PersistentWorkerPool", "PoolConfig", "Task", "TaskOutcome"]

MAX_LOCAL_WORKERS = 8  # windows on this machine
MAX_REMOTE_WORKERS = 32  # windows on a Selenium Grid (nothing of them runs here but the worker process)

P = TypeVar("P")
R = TypeVar("R")


@dataclass(frozen=True)
class PoolConfig:
    """Pool settings (seconds for durations). Validated where the seed gives rules."""

    worker_count: int
    launch: LaunchConfig
    verification: VerificationConfig
    handler: str
    state_dir: Path
    handler_options: object = field(default_factory=dict)  # the handler's third argument (picklable)
    task_timeout: float = 300.0
    max_task_attempts: int = 3
    max_restarts: int = 3
    memory_threshold: float = 0.75
    memory_total: int | None = None  # RAM to judge against; None: this machine's
    memory_check_interval: float = 2.0
    shutdown_timeout: float = 60.0
    start_timeout: float = 240.0
    window_budget_s: float = 180.0
    tick_interval: float = 1.0
    throttle_slowdown_s: float = 60.0  # after a throttle hold: how long dispatch stays paced
    throttle_spacing_s: float = 1.0  # while paced: least time between two dispatches (all workers)
    max_throttled: int = 20  # a task throttled more often than this spends attempts like any retry
    remote: bool = False  # windows on a Selenium Grid: up to MAX_REMOTE_WORKERS of them
    preload_next: bool = True  # reserve each worker's next task and let it preload that task's page

    def __post_init__(self) -> None:
        limit = MAX_REMOTE_WORKERS if self.remote else MAX_LOCAL_WORKERS
        if not 1 <= self.worker_count <= limit:
            raise ValueError(f"worker_count must be between 1 and {limit}, got {self.worker_count}")
        if not 0.5 <= self.memory_threshold <= 0.9:
            raise ValueError(f"memory_threshold must be between 0.5 and 0.9, got {self.memory_threshold}")
        if not 0 < self.shutdown_timeout <= 60:
            raise ValueError("shutdown_timeout must be within (0, 60] seconds")


class PersistentWorkerPool(WorkerRecovery[P, R]):
    """Runs tasks on N verified windows, each owned by a long-lived worker process.

    Generic over the tasks' payload `P` and the handler's result `R` (see `coupadl.pool.tasks`).

    Args:
        config: the pool's settings.
        specs: one `WorkerSpec` per worker (profile, launch, handler), built by the caller.
        on_event: receives `PoolEvent`s (for progress display and the progress store); runs in this process.
        clone_slots: a multiprocessing semaphore throttling clone creation across workers.
    """

    def __init__(
        self,
        config: PoolConfig,
        specs: list[WorkerSpec],
        on_event: Callable[[PoolEvent[R]], None] | None = None,
        clone_slots: Any = None,
    ) -> None:
        self.config = config
        self._ctx = mp.get_context("spawn")
        self._outbox: Queue[WorkerMessage[R]] = self._ctx.Queue()
        self._clone_slots = clone_slots if clone_slots is not None else self._ctx.BoundedSemaphore(len(specs))
        self.workers: dict[int, WorkerHandle[P]] = {s.worker_id: WorkerHandle(s.worker_id, s) for s in specs}
        self._state = StateMachine(POOL_LIFECYCLE, PoolState.INITIALIZING)
        self._queue: deque[Task[P]] = deque()
        self._on_event: Callable[[PoolEvent[R]], None] = on_event or (lambda _e: None)
        self._stop_requested = False
        self._force = False
        self._memory = MemoryGuard(config.memory_threshold, config.memory_total, config.memory_check_interval)
        self._start_deadline = float("inf")
        self._any_verified = False
        self.driver_fault = ""  # a window's reason when the driver cannot drive this browser
        self._last_tick = 0.0
        self.fault: str | None = None
        self._pacing = ThrottlePacing(config.throttle_spacing_s, config.throttle_slowdown_s)
        self.outcomes: dict[str, TaskOutcome[R]] = {}
        self.log = get_logger("coupadl.pool")

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def state(self) -> PoolState:
        """Where the pool is in its lifecycle; changed only through `_set_state`."""
        return self._state.state

    def _set_state(self, state: PoolState) -> None:
        self._state.to(state)
        self._emit(PoolStateChanged(state))

    def _emit(self, event: PoolEvent[R]) -> None:
        self._on_event(event)

    def _spawn(self, worker: WorkerHandle[P], first_preload: str = "") -> None:
        worker.inbox = self._ctx.Queue()
        worker.tracked = ()
        spec = replace(worker.spec, first_preload=first_preload) if first_preload else worker.spec
        worker.process = self._ctx.Process(
            target=worker_main,
            args=(spec, worker.inbox, self._outbox, self._clone_slots),
            name=f"coupadl-worker-{worker.spec.letter}",
            daemon=False,
        )
        worker.process.start()
        self.log.info("worker spawned", window=worker.spec.letter, pid=worker.process.pid)

    def start(self, *, wait: bool = True, tasks: Iterable[Task[P]] = ()) -> dict[int, WindowReport]:
        """Spawn every worker. With `wait`, return once each window is verified or given up (`check`);
        without, return at once and let `run` hand out tasks to each window as soon as it is verified.

        `tasks` are queued before the workers start: each worker then gets its first task reserved, and
        loads its page while its window is verified (`WorkerSpec.first_preload`).

        Returns the reports known so far. Raises `DriverError` (with `wait`) when no window could start
        because the driver cannot drive this browser.
        """
        self._start_deadline = time.monotonic() + self.config.start_timeout
        self._queue.extend(tasks)
        for worker in self.workers.values():
            self._spawn(worker, self._reserve(worker, time.monotonic()))
        while wait and any(w.status is WorkerStatus.STARTING for w in self.workers.values()):
            if self._stop_requested or time.monotonic() > self._start_deadline:
                break
            self._pump(timeout=0.2)
            self._reap_dead()
        if wait:
            self._expire_start(force=True)
            self._raise_driver_fault()
            if self.state is PoolState.INITIALIZING and not self._stop_requested:
                self._set_state(PoolState.READY)
        return self.reports()

    def _raise_driver_fault(self) -> None:
        """No window verified and one said the driver cannot drive the browser: that is a set-up error
        (exit 2, fix with `coupadl driver`), not a session problem."""
        if self.driver_fault and not self._any_verified and not self.usable_workers():
            raise DriverError(self.driver_fault)

    @property
    def any_verified(self) -> bool:
        """True once at least one window was verified in this run."""
        return self._any_verified

    def _expire_start(self, *, force: bool = False) -> None:
        """Give up windows still starting after `start_timeout` (all of them with `force`)."""
        if not force and time.monotonic() <= self._start_deadline:
            return
        for worker in self.workers.values():
            if worker.status is WorkerStatus.STARTING:
                self._give_up(worker, "the window did not become ready in time")

    def reports(self) -> dict[int, WindowReport]:
        """A copy of each worker's `WindowReport`, its processed and restart counts and status filled in."""
        out = {}
        for wid, worker in sorted(self.workers.items()):
            report = worker.report or WindowReport(
                wid, worker.spec.profile_type, Path(), diagnosis=worker.stop_reason
            )
            out[wid] = replace(
                report, processed=worker.processed, restarts=worker.restarts, status=worker.status.value
            )
        return out

    def usable_workers(self) -> list[WorkerHandle[P]]:
        """Workers that are running or may still come back."""
        return [
            w
            for w in self.workers.values()
            if w.status not in (WorkerStatus.FAILED, WorkerStatus.TERMINATED, WorkerStatus.TERMINATING)
        ]

    def request_stop(self) -> None:
        """First call: drain (finish current tasks, then stop). Second call: end every process now."""
        if self._stop_requested:
            self._force = True
        self._stop_requested = True

    def abort(self, reason: str) -> None:
        """Stop the run at once because of a fault no task can get past (a full disk): hand out nothing
        more; tasks in flight stay unfinished (see `pending_tasks`); `close()` ends the workers as usual.
        The first reason is kept in `fault`."""
        if self.fault is None:
            self.fault = reason
            self.log.error("run stopped by a fault", reason=reason)
            self._emit(PoolFaulted(reason))
        self._stop_requested = True

    # --- the run ----------------------------------------------------------------------------------

    def run(self, tasks: Iterable[Task[P]]) -> dict[str, TaskOutcome[R]]:
        """Process `tasks` until done, stopped, or no worker is left. Unfinished tasks have no outcome.

        Raises `DriverError` when every window failed because the driver cannot drive this browser (before
        any task was given out: no window ever started).
        """
        self._queue.extend(tasks)
        drain_deadline: float | None = None
        while True:
            if self._force or self.fault is not None:
                break
            self._pump(timeout=0.05)
            self._tick()
            if self.state is PoolState.READY:
                self._set_state(PoolState.PROCESSING)
            self._reap_dead()
            self._expire_start()
            self._check_timeouts()
            self._guard_memory()
            self._release_reservations()
            busy = [w for w in self.workers.values() if w.task is not None or w.reserved is not None]
            if self._stop_requested:
                drain_deadline = drain_deadline or time.monotonic() + max(
                    1.0, self.config.shutdown_timeout - 15
                )
                if not busy or time.monotonic() > drain_deadline:
                    break
                continue
            if not self._queue and not busy:
                break
            if not self.usable_workers():
                self.log.warning("no worker left; remaining tasks stay pending", pending=len(self._queue))
                self._raise_driver_fault()
                break
            self._dispatch()
        return self.outcomes

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_tick >= self.config.tick_interval:
            self._last_tick = now
            self._emit(Tick())

    def pending_tasks(self) -> list[Task[P]]:
        """Tasks not finished: still queued or in flight when the run stopped."""
        in_flight = [w.task for w in self.workers.values() if w.task is not None]
        reserved = [w.reserved for w in self.workers.values() if w.reserved is not None]
        return [*in_flight, *reserved, *self._queue]

    def _release_reservations(self) -> None:
        """Put back at the head of the queue every reserved task its worker will not do next: the worker
        is not processing, ready or in its first start (it crashed, failed, restarts, stops), or the run
        is stopping."""
        for worker in self.workers.values():
            if worker.reserved is None:
                continue
            working = worker.task is not None and worker.status is WorkerStatus.PROCESSING
            waiting = worker.task is None and worker.status in (WorkerStatus.READY, WorkerStatus.IDLE)
            starting = worker.task is None and worker.status is WorkerStatus.STARTING
            if self._stop_requested or not (working or waiting or starting):
                self._give_back(worker)

    def _give_back(self, worker: WorkerHandle[P]) -> None:
        """The worker's reserved task, never started, back to the head of the queue (no attempt spent)."""
        if worker.reserved is not None:
            self._queue.appendleft(worker.reserved)
            worker.reserved = None

    def _next_task(self, worker: WorkerHandle[P]) -> Task[P] | None:
        """The worker's reserved task, else the head of the queue, else a task reserved by a busy worker
        (at the end of a batch an idle window does it rather than wait: the other's preload is wasted)."""
        if worker.reserved is not None:
            task, worker.reserved = worker.reserved, None
            return task
        if self._queue:
            return self._queue.popleft()
        for other in self.workers.values():
            if other.reserved is not None:
                task, other.reserved = other.reserved, None
                return task
        return None

    def _reserve(self, worker: WorkerHandle[P], now: float) -> str:
        """Reserve the head of the queue as the worker's next task; return the address to preload.

        None while dispatch is paced after an HTTP 429: a preload is one more page asked of the site."""
        if not self.config.preload_next or not self._queue or not self._queue[0].opens:
            return ""
        if self._pacing.paced(now):
            return ""
        worker.reserved = self._queue.popleft()
        return worker.reserved.opens

    def _dispatch(self) -> None:
        now = time.monotonic()
        if self._pacing.held(now):
            return
        for worker in self.workers.values():
            if worker.task is None and worker.status in (WorkerStatus.READY, WorkerStatus.IDLE):
                if worker.restart_after_task:
                    self._give_back(worker)
                    self._restart_deliberately(worker)
                    continue
                if self._pacing.too_soon(now):
                    return
                task = self._next_task(worker)
                if task is None:
                    return
                attempt = task.attempts + 1
                worker.task = replace(task, attempts=attempt)
                worker.task_started = now
                self._pacing.dispatched(now)
                worker.set(WorkerStatus.PROCESSING)
                preload = self._reserve(worker, now)
                assert worker.inbox is not None, "a ready worker has its inbox"
                message = RunTask(task.task_id, task.payload, attempt, task.label, task.opens, preload)
                worker.inbox.put(message)
                self._emit(TaskDispatched(worker.worker_id, task.task_id, attempt))

    # --- messages from workers --------------------------------------------------------------------

    def _pump(self, timeout: float) -> None:
        try:
            msg = self._outbox.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._handle(msg)
            try:
                msg = self._outbox.get_nowait()
            except queue.Empty:
                return

    def _handle(self, msg: WorkerMessage[R]) -> None:
        worker = self.workers.get(msg.worker_id)
        if worker is None:
            return
        if isinstance(msg, WorkerReady):
            if worker.status in (WorkerStatus.FAILED, WorkerStatus.TERMINATED):
                # Given up (start timeout) or stopped while its ready message was on the way: its processes
                # were ended by PID already, so it is not ready.
                self.log.warning("late ready message ignored", window=worker.spec.letter)
                return
            worker.tracked = msg.processes
            worker.report = msg.report
            worker.set(WorkerStatus.READY)
            self._any_verified = True
            if self.state is PoolState.INITIALIZING:
                self._set_state(PoolState.READY)
            self._emit(WorkerVerified(worker.worker_id, msg.report, worker.restarts))
        elif isinstance(msg, WorkerUnverified):
            worker.report = msg.report
            worker.stop_reason = msg.reason
            if msg.driver_fault:
                self.driver_fault = self.driver_fault or msg.reason
            self._emit(WorkerNotVerified(worker.worker_id, msg.report, msg.reason))
        elif isinstance(msg, TaskStarted):
            self._emit(TaskRunning(worker.worker_id, msg.task_id))
        elif isinstance(msg, TaskDone):
            task = worker.task
            if task is None or task.task_id != msg.task_id:
                # A late result of a task already reclaimed (timed out, worker restarted): it went back to
                # the queue, and finishing it here as well would finish it twice.
                self.log.warning("late result ignored", window=worker.spec.letter, task=msg.task_id)
                return
            worker.task = None
            worker.processed += 1
            self._finish(TaskOutcome(msg.task_id, worker.worker_id, task.attempts, result=msg.result))
            if worker.status is WorkerStatus.PROCESSING:
                worker.set(WorkerStatus.IDLE)
        elif isinstance(msg, TaskError):
            self._task_error(worker, msg)

    def _finish(self, outcome: TaskOutcome[R]) -> None:
        self.outcomes[outcome.task_id] = outcome
        self._emit(TaskFinished(outcome))

    def _task_error(self, worker: WorkerHandle[P], msg: TaskError) -> None:
        task = worker.task
        if task is None or task.task_id != msg.task_id:
            return
        if msg.kind is FailureKind.SESSION_EXPIRED:
            # Not the task's fault: it goes back without counting the attempt.
            worker.task = None
            self._queue.appendleft(replace(task, attempts=task.attempts - 1))
            worker.expired_restarts += 1
            self._emit(SessionExpired(worker.worker_id, task.task_id, msg.message))
            return  # the worker exits; _reap_dead decides on its restart
        if msg.kind is FailureKind.WINDOW_CRASHED:
            return  # the worker exits; _reap_dead reclaims the task
        if msg.kind is FailureKind.FATAL:
            # The machine, not the task: it goes back uncounted and the whole run stops.
            worker.task = None
            worker.set(WorkerStatus.IDLE)
            self._queue.appendleft(replace(task, attempts=task.attempts - 1))
            self.abort(msg.message)
            return
        worker.task = None
        worker.set(WorkerStatus.IDLE)
        if msg.kind is FailureKind.THROTTLED and task.throttled < self.config.max_throttled:
            self._throttle(task, worker, msg)
            return
        self._retry_or_fail(task, worker.worker_id, msg.message, permanent=msg.kind is FailureKind.PERMANENT)

    def _throttle(self, task: Task[P], worker: WorkerHandle[P], msg: TaskError) -> None:
        """Hold every worker for `retry_after_s`, then pace; the task goes first, its attempt refunded."""
        self._pacing.hold(time.monotonic(), msg.retry_after_s)
        self._queue.appendleft(replace(task, attempts=task.attempts - 1, throttled=task.throttled + 1))
        self.log.warning(
            "throttled: holding every worker", window=worker.spec.letter, retry_after_s=msg.retry_after_s
        )
        self._emit(TaskThrottled(worker.worker_id, task.task_id, msg.retry_after_s, msg.message))

    def _retry_or_fail(
        self, task: Task[P], worker_id: int | None, error: str, *, permanent: bool = False
    ) -> None:
        if self.fault is not None:
            # Once the machine failed, a task's error is most likely that fault again: never fail it for it.
            self._queue.append(task)
            return
        if permanent or task.attempts >= self.config.max_task_attempts:
            self._finish(TaskOutcome(task.task_id, worker_id, task.attempts, error=error))
        else:
            self._queue.append(task)
            self._emit(TaskRetrying(worker_id, task.task_id, task.attempts, error))

    # --- shutdown ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every worker: ask, wait, then end what is left by PID. Bounded by `shutdown_timeout`."""
        if self.state is PoolState.TERMINATED:
            return
        if self.state is not PoolState.SHUTTING_DOWN:
            self._set_state(PoolState.SHUTTING_DOWN)
        grace = 0.0 if self._force else min(10.0, self.config.shutdown_timeout / 3)
        for worker in self.workers.values():
            if worker.process is not None and worker.process.is_alive() and worker.inbox is not None:
                with contextlib.suppress(ValueError, OSError):  # its queue may already be closed
                    worker.inbox.put(Stop())
        deadline = time.monotonic() + grace
        for worker in self.workers.values():
            if worker.process is not None:
                worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
        # Results sent while the workers finished their last task are recorded, not dropped.
        self._pump(timeout=0.0)
        for worker in self.workers.values():
            proc = worker.process
            if proc is not None and proc.is_alive():
                end_trees(worker.all_processes(), timeout=3.0)
                proc.join(timeout=5)
            end_trees(worker.tracked, timeout=3.0)
        self._pump(timeout=0.0)
        for worker in self.workers.values():
            if worker.status is not WorkerStatus.FAILED:
                worker.set(WorkerStatus.TERMINATED)
        self._outbox.close()
        self._outbox.join_thread()
        self._set_state(PoolState.TERMINATED)

    def __enter__(self) -> PersistentWorkerPool[P, R]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def default_worker_specs(
    *,
    worker_count: int,
    base_profile: Path,
    profile_name: str,
    base_first: bool,
    launch: LaunchConfig,
    verification: VerificationConfig,
    handler: str,
    handler_options: object,
    state_dir: Path,
    profile_setup: dict[str, Any],
    window_budget_s: float = 180.0,
    log_echo: bool = False,
    remote: RemoteWindowSetup | None = None,
) -> list[WorkerSpec]:
    """Specs for windows A..N: A on the base under `base_first`, the rest (or all) on clones; with `remote`,
    every window is a session on that Selenium Grid (the base is only read, for its cookies)."""
    specs = []
    for worker_id in range(1, worker_count + 1):
        is_base = base_first and worker_id == 1 and remote is None
        letter = window_letter(worker_id)
        kind = (
            ProfileType.REMOTE if remote is not None else ProfileType.BASE if is_base else ProfileType.CLONE
        )
        specs.append(
            WorkerSpec(
                worker_id=worker_id,
                profile_type=kind,
                base_profile_path=base_profile,
                profile_name=profile_name,
                launch=launch,
                verification=verification,
                handler=handler,
                handler_options=handler_options,
                download_dir=state_dir / "staging" / letter,
                supervisor_pid=os.getpid(),
                profile_setup=profile_setup,
                log_file=state_dir / "logs" / f"window-{letter}.jsonl",
                window_budget_s=window_budget_s,
                log_echo=log_echo,
                remote=remote,
            )
        )
    return specs
