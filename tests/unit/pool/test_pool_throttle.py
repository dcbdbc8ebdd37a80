"""The pool's throttle path without processes: a THROTTLED failure requeues the task first, refunds its
attempt, holds dispatch to every worker for the wait, then paces dispatch for a while."""

from __future__ import annotations

import time

from coupadl.pool.events import TaskDispatched, TaskThrottled
from coupadl.pool.messages import FailureKind, RunTask, TaskError
from coupadl.pool.pool import PersistentWorkerPool, Task
from coupadl.pool.states import WorkerStatus


def sent(pool: PersistentWorkerPool) -> list[tuple[int, str, int]]:
    """(worker, task, attempt) of every task handed out, in order."""
    events = pool.events  # type: ignore[attr-defined]
    order = [(e.worker_id, e.task_id, e.attempt) for e in events if isinstance(e, TaskDispatched)]
    inboxes = sorted(
        (wid, m.task_id, m.attempt)
        for wid, w in pool.workers.items()
        for m in w.inbox.sent
        if isinstance(m, RunTask)
    )
    assert sorted(order) == inboxes  # what the events say is what the workers got
    return order


def throttle(pool: PersistentWorkerPool, wid: int, wait: float) -> None:
    task = pool.workers[wid].task
    assert task is not None
    pool._handle(TaskError(wid, task.task_id, FailureKind.THROTTLED, "HTTP 429", wait))


def test_throttled_task_goes_first_without_spending_its_attempt_and_every_worker_waits(
    pool: PersistentWorkerPool,
) -> None:
    pool._queue.extend([Task("t1", {}), Task("t2", {}), Task("t3", {})])
    pool._dispatch()
    assert sent(pool) == [(1, "t1", 1), (2, "t2", 1)]

    throttle(pool, 1, 0.5)
    held_at = time.monotonic()
    assert [t.task_id for t in pool._queue] == ["t1", "t3"]
    assert pool._queue[0].attempts == 0 and pool._queue[0].throttled == 1
    assert sum(isinstance(e, TaskThrottled) for e in pool.events) == 1  # type: ignore[attr-defined]
    (event,) = [e for e in pool.events if isinstance(e, TaskThrottled)]  # type: ignore[attr-defined]
    assert event.retry_after_s == 0.5 and event.task_id == "t1"

    # Worker 1 is idle and worker 2 finishes: neither gets a task while the hold lasts.
    pool.workers[2].task = None
    pool.workers[2].set(WorkerStatus.IDLE)
    while time.monotonic() - held_at < 0.4:
        pool._dispatch()
        assert len(sent(pool)) == 2
        time.sleep(0.02)

    # After the hold: the throttled task first, with attempt 1 again; then paced, one per spacing.
    deadline = time.monotonic() + 5
    while len(sent(pool)) < 3 and time.monotonic() < deadline:
        pool._dispatch()
        time.sleep(0.01)
    first_after = time.monotonic()
    assert first_after - held_at >= 0.5
    assert sent(pool)[2][1:] == ("t1", 1)
    while len(sent(pool)) < 4 and time.monotonic() < deadline:
        pool._dispatch()
        time.sleep(0.01)
    assert sent(pool)[3][1:] == ("t3", 1)
    assert time.monotonic() - first_after >= 0.3  # paced although both workers were free


def test_a_task_throttled_too_often_spends_attempts_like_any_retry(pool: PersistentWorkerPool) -> None:
    pool._queue.append(Task("t1", {}, throttled=3))
    pool._dispatch()
    throttle(pool, 1, 0.0)
    assert pool._queue[0].attempts == 1  # counted this time
    assert pool._pacing.hold_until == 0.0
    pool._dispatch()
    throttle(pool, 1, 0.0)
    assert pool.outcomes["t1"].error == "HTTP 429"  # max_task_attempts reached
