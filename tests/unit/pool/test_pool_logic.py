"""Pure logic of the pool, no browser: the memory guard's measure and judge, and the lifecycles."""

from __future__ import annotations

import itertools
import os

import pytest

from coupadl.browser.processes import TrackedProcess
from coupadl.pool.memory import judge_memory, measure_workers, measure_workers_rss, total_memory
from coupadl.pool.states import PoolState, WorkerStatus, check_transition

# --- memory: judge ------------------------------------------------------------------------------------------


def test_judge_under_limit_is_not_over() -> None:
    verdict = judge_memory({1: 100, 2: 200}, 0.75, 1000)
    assert (verdict.used, verdict.limit, verdict.heaviest, verdict.over) == (300, 750, 2, False)


def test_judge_over_limit_names_the_heaviest() -> None:
    verdict = judge_memory({1: 500, 2: 100, 3: 300}, 0.5, 1000)
    assert verdict.over and verdict.heaviest == 1 and verdict.used == 900 and verdict.limit == 500


def test_judge_exactly_at_limit_is_not_over() -> None:
    assert not judge_memory({1: 750}, 0.75, 1000).over


def test_judge_without_workers_never_restarts() -> None:
    verdict = judge_memory({}, 0.5, 0)
    assert verdict.heaviest is None and not verdict.over


def test_measure_counts_a_live_tree_and_skips_dead_entries() -> None:
    me = TrackedProcess.of(os.getpid(), "worker")
    gone = TrackedProcess(2**22 + 1, 0.0, "browser")  # PID beyond pid_max: never running
    usage = measure_workers({1: [me, None], 2: [gone]})
    assert usage[1] > 1_000_000 and usage[2] == 0
    assert total_memory() > usage[1]


def test_rss_bounds_uss_from_above_so_the_cheap_look_never_hides_an_overrun() -> None:
    me = TrackedProcess.of(os.getpid(), "worker")
    gone = TrackedProcess(2**22 + 1, 0.0, "browser")
    rss = measure_workers_rss({1: [me], 2: [gone]})
    uss = measure_workers({1: [me]})
    assert rss[1] >= uss[1] > 1_000_000 and rss[2] == 0


# --- lifecycles ---------------------------------------------------------------------------------------------

POOL_PATH = [
    PoolState.INITIALIZING,
    PoolState.READY,
    PoolState.PROCESSING,
    PoolState.SHUTTING_DOWN,
    PoolState.TERMINATED,
]
WORKER_PATH = [
    WorkerStatus.STARTING,
    WorkerStatus.READY,
    WorkerStatus.PROCESSING,
    WorkerStatus.IDLE,
    WorkerStatus.PROCESSING,
    WorkerStatus.IDLE,
    WorkerStatus.TERMINATING,
    WorkerStatus.TERMINATED,
]
RECOVERY_PATH = [WorkerStatus.PROCESSING, WorkerStatus.CRASHED, WorkerStatus.RESTARTING, WorkerStatus.READY]
MEMORY_RESTART_PATH = [
    WorkerStatus.IDLE,
    WorkerStatus.TERMINATING,
    WorkerStatus.TERMINATED,
    WorkerStatus.RESTARTING,
    WorkerStatus.READY,
]


@pytest.mark.parametrize(
    "path",
    [POOL_PATH, WORKER_PATH, RECOVERY_PATH, MEMORY_RESTART_PATH],
    ids=["pool", "worker", "recovery", "memory-restart"],
)
def test_documented_paths_are_allowed(path: list[PoolState] | list[WorkerStatus]) -> None:
    for current, new in itertools.pairwise(path):
        check_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (PoolState.PROCESSING, PoolState.READY),
        (PoolState.TERMINATED, PoolState.PROCESSING),
        (PoolState.INITIALIZING, PoolState.PROCESSING),
        (WorkerStatus.STARTING, WorkerStatus.PROCESSING),
        (WorkerStatus.TERMINATED, WorkerStatus.PROCESSING),
        (WorkerStatus.FAILED, WorkerStatus.READY),
        (WorkerStatus.CRASHED, WorkerStatus.READY),
        (WorkerStatus.IDLE, WorkerStatus.READY),
    ],
)
def test_undocumented_transitions_are_refused(
    current: PoolState | WorkerStatus, new: PoolState | WorkerStatus
) -> None:
    with pytest.raises(ValueError, match="cannot go from"):
        check_transition(current, new)


def test_staying_in_a_state_is_allowed() -> None:
    check_transition(WorkerStatus.FAILED, WorkerStatus.FAILED)
    check_transition(PoolState.TERMINATED, PoolState.TERMINATED)
