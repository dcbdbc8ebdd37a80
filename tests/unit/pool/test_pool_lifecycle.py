"""The pool's and its workers' lifecycles: the tables' legal paths (failure and shutdown included), and the
pool itself moving only through them (no process: workers stand in as their supervisor's view)."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from coupadl.browser.discovery import Executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.window import WindowReport
from coupadl.lifecycle import IllegalTransition
from coupadl.pool.events import PoolStateChanged
from coupadl.pool.handle import WorkerHandle
from coupadl.pool.messages import WorkerReady
from coupadl.pool.pool import PersistentWorkerPool, PoolConfig
from coupadl.pool.states import POOL_LIFECYCLE, WORKER_LIFECYCLE, PoolState, WorkerStatus
from coupadl.profiles.models import ProfileType, VerificationConfig
from coupadl.settings import BrowserKind

W = WorkerStatus

WORKER_PATHS = {
    "a crash while stopping": [W.READY, W.TERMINATING, W.CRASHED, W.RESTARTING, W.READY],
    "a crash while stopping, given up": [W.IDLE, W.TERMINATING, W.CRASHED, W.FAILED],
    "never verified": [W.STARTING, W.FAILED],
    "unverified after a restart": [W.PROCESSING, W.CRASHED, W.RESTARTING, W.FAILED],
    "out of restarts": [W.IDLE, W.CRASHED, W.FAILED],
    "crash while restarting": [W.RESTARTING, W.CRASHED, W.RESTARTING, W.READY],
    "closed while starting": [W.STARTING, W.TERMINATED],
    "closed while busy": [W.PROCESSING, W.TERMINATED],
    "closed while restarting": [W.CRASHED, W.RESTARTING, W.TERMINATED],
}


@pytest.mark.parametrize("path", WORKER_PATHS.values(), ids=WORKER_PATHS.keys())
def test_failure_and_shutdown_paths_are_legal(path: list[WorkerStatus]) -> None:
    for current, new in itertools.pairwise(path):
        assert WORKER_LIFECYCLE.allows(current, new), (current, new)


def test_shutting_down_from_every_pool_state_but_the_last() -> None:
    for state in PoolState:
        assert POOL_LIFECYCLE.allows(state, PoolState.SHUTTING_DOWN) is (state is not PoolState.TERMINATED)


def test_ended_workers_stay_ended() -> None:
    assert WORKER_LIFECYCLE.successors(W.TERMINATED) == {W.RESTARTING}  # a memory restart only
    assert W.READY not in WORKER_LIFECYCLE.successors(W.FAILED)


def _pool(tmp_path: Path, statuses: list[list[WorkerStatus]]) -> PersistentWorkerPool:
    config = PoolConfig(
        worker_count=len(statuses),
        launch=LaunchConfig(Executables(BrowserKind.CHROMIUM, Path("/x/chromium"), Path("/x/chromedriver"))),
        verification=VerificationConfig(auth_check_url="http://127.0.0.1:9/user/home"),
        handler="support.handlers:visit",
        state_dir=tmp_path,
    )
    pool = PersistentWorkerPool(config, [], clone_slots=object())
    for wid, path in enumerate(statuses, start=1):
        worker = WorkerHandle(wid, SimpleNamespace(letter="ABCDEFGH"[wid - 1]))  # type: ignore[arg-type]
        for status in path:
            worker.set(status)
        pool.workers[wid] = worker
    return pool


def test_close_terminates_workers_in_every_live_state_through_the_table(tmp_path: Path) -> None:
    paths = [
        [],  # STARTING
        [W.READY],
        [W.READY, W.PROCESSING],
        [W.READY, W.PROCESSING, W.IDLE],
        [W.CRASHED, W.RESTARTING],
        [W.READY, W.TERMINATING],
        [W.FAILED],
    ]
    pool = _pool(tmp_path, paths)
    events: list[Any] = []
    pool._on_event = events.append
    pool.close()  # strict mode: any move the tables forbid would raise here
    assert [w.status for w in pool.workers.values()] == [W.TERMINATED] * 6 + [W.FAILED]
    assert pool.state is PoolState.TERMINATED
    states = [e.state for e in events if isinstance(e, PoolStateChanged)]
    assert states == [PoolState.SHUTTING_DOWN, PoolState.TERMINATED]
    pool.close()  # a second close is a no-op


def test_a_ready_message_after_the_worker_was_given_up_is_ignored(tmp_path: Path) -> None:
    pool = _pool(tmp_path, [[W.FAILED]])
    pool._handle(WorkerReady(1, WindowReport(1, ProfileType.BASE, Path("/p")), (), "/p"))
    assert pool.workers[1].status is W.FAILED and not pool.any_verified
    pool.close()


def test_state_changes_only_through_the_lifecycle(tmp_path: Path) -> None:
    pool = _pool(tmp_path, [[]])
    worker = pool.workers[1]
    with pytest.raises(AttributeError):
        worker.status = W.READY  # type: ignore[misc]
    with pytest.raises(AttributeError):
        pool.state = PoolState.READY  # type: ignore[misc]
    with pytest.raises(IllegalTransition, match="worker window A cannot go from starting to idle"):
        worker.set(W.IDLE)
    pool.close()
