"""Each worker's next task reserved (its page preloading in the window's spare tab), without processes: a
reservation is done by its worker next, or goes back to the head of the queue uncounted when the worker
cannot do it; at the end of a batch an idle worker takes another's reservation rather than wait."""

from __future__ import annotations

from typing import Any

from coupadl.pool.messages import RunTask, TaskDone
from coupadl.pool.pool import PersistentWorkerPool, Task
from coupadl.pool.states import WorkerStatus


def work(*ids: str) -> list[Task[dict[str, Any]]]:
    return [Task(i, {}, opens=f"http://site/{i}") for i in ids]


def runs(pool: PersistentWorkerPool, wid: int) -> list[tuple[str, str, int]]:
    """(task, preload, attempt) of every task worker `wid` was given, in order."""
    inbox = pool.workers[wid].inbox
    return [(m.task_id, m.preload, m.attempt) for m in inbox.sent if isinstance(m, RunTask)]  # type: ignore[union-attr]


def finish(pool: PersistentWorkerPool, wid: int) -> None:
    task = pool.workers[wid].task
    assert task is not None
    pool._handle(TaskDone(wid, task.task_id, "ok", 0.1))


def test_each_worker_is_given_a_task_and_the_address_of_its_next_one_which_it_does_next(
    pool: PersistentWorkerPool,
) -> None:
    pool._queue.extend(work("t1", "t2", "t3", "t4", "t5"))
    pool._dispatch()
    assert runs(pool, 1) == [("t1", "http://site/t2", 1)]
    assert runs(pool, 2) == [("t3", "http://site/t4", 1)]
    assert [t.task_id for t in pool._queue] == ["t5"]
    assert sorted(t.task_id for t in pool.pending_tasks()) == ["t1", "t2", "t3", "t4", "t5"]

    finish(pool, 1)
    pool._dispatch()
    assert runs(pool, 1)[-1] == ("t2", "http://site/t5", 1), "its reservation, not the head of the queue"
    assert not pool._queue


def test_an_idle_worker_takes_a_busy_ones_reservation_at_the_end_of_the_batch(
    pool: PersistentWorkerPool,
) -> None:
    pool._queue.extend(work("t1", "t2", "t3"))
    pool._dispatch()
    assert runs(pool, 1) == [("t1", "http://site/t2", 1)]
    assert runs(pool, 2) == [("t3", "", 1)]
    finish(pool, 2)
    pool._dispatch()
    assert runs(pool, 2)[-1] == ("t2", "", 1)
    assert pool.workers[1].reserved is None
    finish(pool, 1)
    finish(pool, 2)
    pool._release_reservations()
    pool._dispatch()
    assert sorted(pool.outcomes) == ["t1", "t2", "t3"] and not pool.pending_tasks()


def test_a_crashed_workers_reservation_goes_back_first_without_spending_an_attempt(
    pool: PersistentWorkerPool,
) -> None:
    pool._queue.extend(work("t1", "t2", "t3", "t4", "t5"))
    pool._dispatch()
    crashed = pool.workers[2]
    crashed.set(WorkerStatus.CRASHED)  # its own task is retried by recovery; not this test's subject
    crashed.task = None
    pool._release_reservations()
    assert [(t.task_id, t.attempts) for t in pool._queue] == [("t4", 0), ("t5", 0)]
    assert pool.workers[1].reserved is not None, "the live worker keeps its own"


def test_stopping_releases_every_reservation_as_pending(pool: PersistentWorkerPool) -> None:
    pool._queue.extend(work("t1", "t2", "t3", "t4", "t5"))
    pool._dispatch()
    pool.request_stop()
    pool._release_reservations()
    assert all(w.reserved is None for w in pool.workers.values())
    pending = [t.task_id for t in pool.pending_tasks()]
    assert sorted(pending) == ["t1", "t2", "t3", "t4", "t5"] and len(set(pending)) == 5


def test_a_worker_restarted_for_memory_gives_its_reservation_back_first(pool: PersistentWorkerPool) -> None:
    restarted: list[int] = []
    pool._restart_deliberately = lambda w: restarted.append(w.worker_id)  # type: ignore[method-assign]
    pool._queue.extend(work("t1", "t2", "t3", "t4", "t5"))
    pool._dispatch()
    finish(pool, 1)
    pool.workers[1].restart_after_task = True
    pool._dispatch()
    assert restarted == [1]
    assert [t.task_id for t in pool._queue] == ["t2", "t5"]


def test_no_reservation_while_paced_after_a_429_nor_when_switched_off(pool: PersistentWorkerPool) -> None:
    pool._pacing.hold(0.0, 0.0)  # a hold that is over, then paced for `throttle_slowdown_s`
    pool._pacing.paced_until = float("inf")
    pool._pacing.spacing = 0.0
    pool._queue.extend(work("t1", "t2", "t3"))
    pool._dispatch()
    assert runs(pool, 1) == [("t1", "", 1)] and runs(pool, 2) == [("t2", "", 1)]

    pool._pacing.paced_until = 0.0
    object.__setattr__(pool.config, "preload_next", False)
    finish(pool, 1)
    pool._dispatch()
    assert runs(pool, 1)[-1] == ("t3", "", 1)


def test_tasks_that_name_no_address_are_never_reserved(pool: PersistentWorkerPool) -> None:
    pool._queue.extend([Task("t1", {}), Task("t2", {}), Task("t3", {})])
    pool._dispatch()
    assert runs(pool, 1) == [("t1", "", 1)] and runs(pool, 2) == [("t2", "", 1)]
    assert all(w.reserved is None for w in pool.workers.values())


def test_tasks_given_at_start_reserve_each_workers_first_task_to_preload_while_it_is_verified(
    pool: PersistentWorkerPool,
) -> None:
    spawned: list[tuple[int, str]] = []
    pool._spawn = lambda w, first_preload="": spawned.append((w.worker_id, first_preload))  # type: ignore[method-assign]
    pool.start(wait=False, tasks=work("t1", "t2", "t3", "t4"))
    assert spawned == [(1, "http://site/t1"), (2, "http://site/t2")]
    assert [t.task_id for t in pool._queue] == ["t3", "t4"]
    pool._dispatch()
    assert runs(pool, 1) == [("t1", "http://site/t3", 1)]
    assert runs(pool, 2) == [("t2", "http://site/t4", 1)]


def test_a_worker_still_starting_keeps_its_first_reservation_and_one_that_failed_gives_it_back(
    pool: PersistentWorkerPool,
) -> None:
    from coupadl.pool.handle import WorkerHandle

    starting = WorkerHandle(3, pool.workers[1].spec)
    pool.workers[3] = starting
    starting.reserved = work("t9")[0]
    pool._release_reservations()
    assert starting.reserved is not None and not pool._queue
    starting.set(WorkerStatus.FAILED)
    pool._release_reservations()
    assert starting.reserved is None and [t.task_id for t in pool._queue] == ["t9"]
