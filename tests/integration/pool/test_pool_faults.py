"""`PersistentWorkerPool` with real headless Chromium against the sandbox, with faults injected.

Every test ends with the same proof: no process the pool ever reported (worker, driver, browser and the
browser's children) still runs, and nothing is left in the profile manager's temp root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from coupadl.browser.launcher import LaunchConfig
from coupadl.pool import PoolEvent, Task, WorkerStatus
from coupadl.pool.events import (
    MemoryChecked,
    PoolFaulted,
    SessionExpired,
    TaskDispatched,
    TaskFinished,
    TaskRunning,
    Tick,
    WorkerCrashed,
    WorkerFailed,
    WorkerRestarting,
)
from coupadl.sandbox import SandboxServer, Scenario
from support.pool_harness import PoolHarness
from support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

Factory = Callable[..., PoolHarness]


@pytest.fixture
def make_pool(signed_in_profile: Path, launch_config: LaunchConfig) -> Iterator[Factory]:
    """`make_pool(server, workers=3, **PoolConfig overrides)`; every harness is closed and checked after."""
    made: list[PoolHarness] = []

    def make(server: SandboxServer, workers: int = 3, **config: Any) -> PoolHarness:
        harness = PoolHarness(
            signed_in_profile, launch_config, server.base_url, workers=workers, config=config
        )
        made.append(harness)
        return harness

    try:
        yield make
    finally:
        problems = []
        for harness in made:
            try:
                harness.close()
                left = harness.leftovers()
                folders = harness.leftover_folders()
                if left or folders:
                    problems.append(f"left running: {left}; left on disk: {folders}")
            finally:
                harness.cleanup()
        assert not problems, problems


def tasks(server: SandboxServer, count: int, prefix: str = "t", **extra: Any) -> list[Task]:
    """`count` tasks on the sandbox's home page (a protected page: signed-out windows see sign-in)."""
    return [Task(f"{prefix}{i:02d}", {"url": server.url("/user/home"), **extra}) for i in range(count)]


def later(seconds: float, action: Callable[[], None]) -> None:
    """Run `action` in `seconds`, off the supervisor's loop (a fault arriving mid-task)."""
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def on_task_started(task_id: str, action: Callable[[PoolEvent[Any], PoolHarness], None]) -> Any:
    """A harness hook that runs `action` once, when `task_id` starts for the first time."""
    fired: list[bool] = []

    def hook(event: PoolEvent[Any], harness: PoolHarness) -> None:
        if isinstance(event, TaskRunning) and event.task_id == task_id and not fired:
            fired.append(True)
            action(event, harness)

    return hook


# --- the normal case ------------------------------------------------------------------------------------


def kill_browser_during(harness: PoolHarness, task_id: str) -> list[int]:
    """kill -9 the browser of whichever worker takes `task_id`, 1 s into the task; returns [its worker id]."""
    victim: list[int] = []

    def kill_browser(event: PoolEvent[Any], h: PoolHarness) -> None:
        assert event.worker_id is not None
        victim.append(event.worker_id)
        later(1.0, lambda: kill9(h.current_browser(victim[0])))

    harness.hooks.append(on_task_started(task_id, kill_browser))
    return victim


def test_three_workers_finish_thirty_tasks_one_browser_and_one_task_tab_each(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=3)
    reports = harness.start()
    assert [r.status for r in reports.values()] == ["ready"] * 3

    outcomes = harness.run(tasks(sandbox, 30))

    assert sorted(outcomes) == [f"t{i:02d}" for i in range(30)]
    assert all(o.error == "" and o.result is not None for o in outcomes.values())
    assert set(harness.finished_counts().values()) == {1}
    by_worker: dict[int, list[dict[str, Any]]] = {}
    for outcome in outcomes.values():
        assert outcome.worker_id is not None
        by_worker.setdefault(outcome.worker_id, []).append(outcome.result or {})
    assert sorted(by_worker) == [1, 2, 3], "every worker took tasks"
    for worker_id, results in by_worker.items():
        assert {r["browser_pid"] for r in results} == {harness.current_browser(worker_id)}, "one browser"
        assert len(harness.browser_pids[worker_id]) == 1, "never restarted"
        handles = {r["handle"] for r in results}
        assert len(handles) == 1, "every task succeeded: the window's task tab is re-used"
        assert handles.isdisjoint(r["main_handle"] for r in results), "never in the main window"
        assert all(r["tabs_at_start"] == 2 for r in results), "only the main window besides the task's tab"
        assert all(r["tabs_during"] == 2 for r in results)
    assert not harness.kinds(WorkerCrashed) and not harness.kinds(WorkerRestarting)
    assert harness.pool is not None
    assert {w.processed for w in harness.pool.workers.values()} <= set(range(1, 31))
    assert sum(w.processed for w in harness.pool.workers.values()) == 30


def test_a_failed_task_leaves_the_next_task_of_its_worker_a_fresh_tab(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=1)
    harness.start()
    work = tasks(sandbox, 4)
    work[1] = Task("t01", {"url": sandbox.url("/user/home"), "fail": True})

    outcomes = harness.run(work)

    assert "failed on purpose" in outcomes["t01"].error and outcomes["t01"].attempts == 1
    results = {t: outcomes[t].result or {} for t in ("t00", "t02", "t03")}
    assert results["t02"]["handle"] != results["t00"]["handle"], "a fresh tab after the failure"
    assert results["t03"]["handle"] == results["t02"]["handle"], "then re-used again"
    assert len({r["main_handle"] for r in results.values()}) == 1, "the main window was never closed"
    assert all(r["tabs_at_start"] == 2 for r in results.values()), "the failed task's tab was closed"
    assert len(harness.browser_pids[1]) == 1, "the window itself was kept"


# --- a browser, a worker, a task dies ---------------------------------------------------------------------


def test_browser_killed_mid_task_restarts_only_that_worker(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=3)
    harness.start()
    victim = kill_browser_during(harness, "t03")
    work = tasks(sandbox, 12)
    work[3] = Task("t03", {"url": sandbox.url("/user/home"), "hold": 4.0, "hold_attempts": [1]})

    outcomes = harness.run(work)

    assert sorted(outcomes) == [t.task_id for t in work]
    assert all(o.error == "" for o in outcomes.values())
    assert set(harness.finished_counts().values()) == {1}, "no task lost or completed twice"
    assert outcomes["t03"].attempts == 2
    (dead,) = victim
    assert [e.worker_id for e in harness.kinds(WorkerCrashed)] == [dead]
    assert [e.worker_id for e in harness.kinds(WorkerRestarting)] == [dead], "that worker restarts"
    # The others may finish the batch before it is back; if it came back, it has a new browser.
    assert len(set(harness.browser_pids[dead])) == len(harness.browser_pids[dead])
    for other in {1, 2, 3} - {dead}:
        assert len(harness.browser_pids[other]) == 1, "other workers kept their browser"
        results = [o.result for o in outcomes.values() if o.worker_id == other and o.result]
        assert {r["browser_pid"] for r in results} <= {harness.browser_pids[other][0]}


def test_worker_process_killed_and_hung_task_are_recovered(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=3, task_timeout=6.0)
    harness.start()
    assert harness.pool is not None
    pool = harness.pool
    killed: list[int] = []

    def kill_worker(event: PoolEvent[Any], _h: PoolHarness) -> None:
        assert event.worker_id is not None
        killed.append(event.worker_id)
        pid = pool.workers[event.worker_id].process.pid
        later(1.0, lambda: kill9(pid))

    harness.hooks.append(on_task_started("t01", kill_worker))
    work = tasks(sandbox, 12)
    work[1] = Task("t01", {"url": sandbox.url("/user/home"), "hold": 4.0, "hold_attempts": [1]})
    work[2] = Task("t02", {"url": sandbox.url("/user/home"), "hold": 60.0, "hold_attempts": [1]})

    started = time.monotonic()
    outcomes = harness.run(work)

    assert time.monotonic() - started < 50, "the hung task was cut off by task_timeout"
    assert sorted(outcomes) == [t.task_id for t in work]
    assert all(o.error == "" for o in outcomes.values())
    assert set(harness.finished_counts().values()) == {1}
    assert outcomes["t01"].attempts == 2 and outcomes["t02"].attempts == 2
    reasons = [e.reason for e in harness.kinds(WorkerCrashed)]
    assert len(reasons) == 2
    assert any("exit code -9" in r for r in reasons), reasons
    assert any("longer than" in r for r in reasons), reasons
    assert all(w.status is not WorkerStatus.FAILED for w in pool.workers.values())


def test_worker_that_cannot_restart_hands_its_task_to_another(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=2, max_restarts=0)
    harness.start()
    assert harness.pool is not None
    victim = kill_browser_during(harness, "t01")
    work = tasks(sandbox, 6)
    work[1] = Task("t01", {"url": sandbox.url("/user/home"), "hold": 4.0, "hold_attempts": [1]})

    outcomes = harness.run(work)

    (dead,) = victim
    (survivor,) = {1, 2} - {dead}
    assert harness.pool.workers[dead].status is WorkerStatus.FAILED
    assert [e.worker_id for e in harness.kinds(WorkerFailed)] == [dead]
    assert sorted(outcomes) == [t.task_id for t in work]
    assert all(o.error == "" for o in outcomes.values())
    assert outcomes["t01"].worker_id == survivor and outcomes["t01"].attempts == 2
    assert set(harness.finished_counts().values()) == {1}


def test_memory_above_limit_restarts_heaviest_worker_between_tasks(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    # A machine of 1 KB: any worker is over the limit, so the heaviest one is restarted at its next task.
    harness = make_pool(sandbox, workers=2, memory_total=1024, memory_check_interval=3.0)
    harness.start()

    outcomes = harness.run(tasks(sandbox, 8, hold=0.5))

    assert sorted(outcomes) == [f"t{i:02d}" for i in range(8)]
    assert all(o.error == "" and o.attempts == 1 for o in outcomes.values()), "no task was cut off"
    assert set(harness.finished_counts().values()) == {1}
    assert not harness.kinds(WorkerCrashed)
    restarts = [e for e in harness.kinds(WorkerRestarting) if e.reason == "memory"]
    assert restarts, "a memory restart happened"
    first = restarts[0]
    memory = [e for e in harness.events[: harness.events.index(first)] if isinstance(e, MemoryChecked)]
    usage = memory[-1].usage
    assert first.worker_id == max(usage, key=lambda k: usage[k]), "the heaviest worker was restarted"
    assert memory[-1].limit < sum(usage.values())
    assert memory[-1].measure == "uss", "the decision was taken on USS, RSS only looked first"
    assert first.worker_id is not None
    assert len(harness.browser_pids[first.worker_id]) >= 2


# --- the session expires ------------------------------------------------------------------------------------


def test_sessions_expiring_mid_batch_leave_tasks_pending_never_failed(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=2)
    harness.start()
    assert harness.pool is not None
    harness.hooks.append(on_task_started("t03", lambda _e, _h: later(0.3, sandbox.expire_all_sessions)))
    work = tasks(sandbox, 12, hold=0.5)

    outcomes = harness.run(work)

    assert all(o.error == "" for o in outcomes.values()), "no task failed"
    assert 3 <= len(outcomes) < 12
    pending = [t.task_id for t in harness.pool.pending_tasks()]
    assert sorted([*outcomes, *pending]) == [t.task_id for t in work], "every task finished or pending"
    assert not set(outcomes) & set(pending)
    assert harness.kinds(SessionExpired)
    assert all(w.status is WorkerStatus.FAILED for w in harness.pool.workers.values())
    assert set(harness.finished_counts().values()) == {1}


def test_expire_after_views_stops_the_batch_with_tasks_pending(
    make_pool: Factory, sandbox_factory: Any
) -> None:
    # Each session is signed out after a few page views: verification uses some, tasks the rest.
    server = sandbox_factory(Scenario(pos=Scenario.small().pos, expire_after_views=6))
    harness = make_pool(server, workers=1)
    harness.start()
    assert harness.pool is not None

    outcomes = harness.run(tasks(server, 10))

    assert all(o.error == "" for o in outcomes.values())
    pending = [t.task_id for t in harness.pool.pending_tasks()]
    assert pending and sorted([*outcomes, *pending]) == [f"t{i:02d}" for i in range(10)]


# --- shutdown ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preload", [False, True], ids=["one-task-each", "next-task-reserved"])
def test_request_stop_mid_batch_closes_everything_within_a_minute(
    make_pool: Factory, sandbox: SandboxServer, preload: bool
) -> None:
    harness = make_pool(sandbox, workers=3)
    harness.start()
    assert harness.pool is not None
    pool = harness.pool
    stop_at: list[float] = []

    def stop_after_five(event: PoolEvent[Any], _h: PoolHarness) -> None:
        if isinstance(event, TaskFinished) and not stop_at and len(harness.kinds(TaskFinished)) >= 5:
            stop_at.append(time.monotonic())
            pool.request_stop()

    harness.hooks.append(stop_after_five)
    work = tasks(sandbox, 30, hold=0.5)
    if preload:
        work = [
            Task(t.task_id, {**t.payload, "hold": 0.5}, opens=t.opens) for t in preloaded_tasks(sandbox, 30)
        ]
    outcomes = harness.run(work)
    harness.close()
    elapsed = time.monotonic() - stop_at[0]

    assert elapsed < 60
    assert 5 <= len(outcomes) < 30
    assert all(o.error == "" for o in outcomes.values()), "tasks in flight were finished, not failed"
    pending = [t.task_id for t in pool.pending_tasks()]
    # Reserved tasks were never started: they are pending like the queued ones, none lost or counted twice.
    assert sorted([*outcomes, *pending]) == sorted(t.task_id for t in work)
    assert harness.leftovers() == []
    assert harness.leftover_folders() == []


def test_supervisor_killed_leaves_no_browser(signed_in_profile: Path, sandbox: SandboxServer) -> None:
    tests_dir = Path(__file__).resolve().parents[2]  # tests/, where `support` lives
    child = subprocess.Popen(
        [sys.executable, "-m", "support.supervisor", str(signed_in_profile), sandbox.base_url],
        cwd=tests_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    report: dict[str, Any] = {}
    procs: list[psutil.Process] = []
    try:
        assert child.stdout is not None
        line = ""
        while not line.startswith('{"pids"'):  # the supervisor's log lines come first
            line = child.stdout.readline()
            assert line, "the supervisor ended before reporting its processes"
        report = json.loads(line)
        for pid in report["pids"]:
            with contextlib.suppress(psutil.Error):
                procs.append(psutil.Process(pid))
        assert len(procs) >= 6, "two workers, each with a driver and a browser tree"
        # Both workers hold a task (their pages were served), so the kill lands mid-task.
        wait_for(
            lambda: len({r.query for r in sandbox.requests() if "task=" in r.query}) >= 2,
            "both workers to be running a task",
            timeout=60.0,
        )
        child.kill()
        child.wait(timeout=10)
        _gone, alive = psutil.wait_procs(procs, timeout=15.0)
        assert alive == [], f"still running 15 s after the supervisor died: {[p.pid for p in alive]}"
        run_dir = Path(report["run_dir"])
        clones = [p.name for p in run_dir.iterdir() if p.is_dir() and p.name != "snap"]
        assert clones == [], "each worker removed its clone"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if report:
            shutil.rmtree(report["root"], ignore_errors=True)


# --- faults of the machine ---------------------------------------------------------------------------------


def test_a_machine_fault_in_a_task_stops_the_run_and_fails_nothing(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=2)
    harness.handler = "support.handlers:visit_or_fault"
    harness.start()
    assert harness.pool is not None
    pool = harness.pool
    work = tasks(sandbox, 12, hold=0.3)
    work[4] = Task("t04", {**work[4].payload, "fault": True})

    started = time.monotonic()
    harness.run(work)
    harness.close()
    outcomes = pool.outcomes  # with the results that arrived while the windows closed

    assert time.monotonic() - started < 60
    assert pool.fault is not None and "disk holding /out is full" in pool.fault
    assert "t04" not in outcomes, "the task that met the fault is not finished"
    assert all(o.error == "" for o in outcomes.values()), "no task is failed for a fault of the machine"
    pending = [t.task_id for t in pool.pending_tasks()]
    assert "t04" in pending
    assert sorted([*outcomes, *pending]) == [t.task_id for t in work]
    returned = next(t for t in pool.pending_tasks() if t.task_id == "t04")
    assert returned.attempts == 0, "the attempt the fault cut short does not count"
    assert [e.reason for e in harness.kinds(PoolFaulted)] == [pool.fault]
    assert harness.kinds(Tick), "the pool ticks while it runs"
    assert harness.leftovers() == []
    assert harness.leftover_folders() == []


def test_abort_from_the_supervisor_stops_at_once_and_keeps_the_first_reason(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=2)
    harness.start()
    assert harness.pool is not None
    pool = harness.pool

    def abort_after_three(event: PoolEvent[Any], _h: PoolHarness) -> None:
        if isinstance(event, TaskFinished) and len(harness.kinds(TaskFinished)) == 3:
            pool.abort("output folder gone")
            pool.abort("a second reason")

    harness.hooks.append(abort_after_three)
    harness.run(tasks(sandbox, 20, hold=0.3))
    harness.close()
    outcomes = pool.outcomes  # with the results that arrived while the windows closed

    assert pool.fault == "output folder gone"
    assert 3 <= len(outcomes) < 20
    assert all(o.error == "" for o in outcomes.values())
    assert len(outcomes) + len(pool.pending_tasks()) == 20
    assert harness.leftovers() == []


# --- the next task preloaded ----------------------------------------------------------------------------


def preloaded_tasks(server: SandboxServer, count: int) -> list[Task]:
    """`count` tasks, each on its own address, which it names as the page it opens (`Task.opens`)."""
    made = []
    for i in range(count):
        url = server.url(f"/user/home?task=t{i:02d}")
        made.append(Task(f"t{i:02d}", {"url": url}, opens=url))
    return made


def requests_per_task(server: SandboxServer) -> dict[str, int]:
    """How many times the site served each task's page."""
    counts: dict[str, int] = {}
    for r in server.requests():
        if r.path == "/user/home" and r.query.startswith("task="):
            counts[r.query] = counts.get(r.query, 0) + 1
    return counts


def test_each_worker_preloads_its_next_task_and_every_task_finishes_once(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    harness = make_pool(sandbox, workers=2)
    work = preloaded_tasks(sandbox, 12)
    dispatched: dict[str, float] = {}
    harness.hooks.append(
        lambda e, _h: dispatched.setdefault(e.task_id, time.time()) if isinstance(e, TaskDispatched) else None
    )
    harness.start(work)  # as `coupadl run`: each first task's page loads while its window is verified

    outcomes = harness.run([])

    assert sorted(outcomes) == [t.task_id for t in work]
    assert all(o.error == "" and o.attempts == 1 for o in outcomes.values())
    assert set(harness.finished_counts().values()) == {1}
    for outcome in outcomes.values():
        result = outcome.result or {}
        assert result["final_url"].endswith(f"task={outcome.task_id}"), "each task read its own page"
    counts = requests_per_task(sandbox)
    assert sorted(counts) == sorted(f"task={t.task_id}" for t in work)
    # A preloaded page is read, not loaded again; only a task taken from a busy worker at the end of the
    # batch (at most one per worker) is loaded twice, the preload wasted.
    assert sum(1 for n in counts.values() if n == 1) >= len(work) - 2, counts
    assert max(counts.values()) <= 2, counts
    for worker_id in (1, 2):
        results = sorted(
            (o.result or {} for o in outcomes.values() if o.worker_id == worker_id), key=lambda r: r["at"]
        )
        assert len({r["handle"] for r in results}) == 2, "the task tab and the spare tab take turns"
        first = next(o.task_id for o in outcomes.values() if o.result is results[0])
        asked = min(r.at for r in sandbox.requests() if r.query == f"task={first}")
        assert asked < dispatched[first], "the first task's page was asked for before the task was handed out"
    assert harness.pool is not None and not harness.pool.pending_tasks()


def test_a_worker_killed_with_a_reserved_task_hands_both_back(
    make_pool: Factory, sandbox: SandboxServer
) -> None:
    """The killed worker held its task and the next one, reserved (preloading) but not started: the first
    is retried (a second attempt), the reserved one is done by someone once, its attempt not counted."""
    harness = make_pool(sandbox, workers=2)
    harness.start()
    assert harness.pool is not None
    pool = harness.pool
    reserved: list[str] = []

    def kill_worker(event: PoolEvent[Any], _h: PoolHarness) -> None:
        assert event.worker_id is not None
        holder = pool.workers[event.worker_id]
        assert holder.reserved is not None, "the next task was reserved with this one"
        reserved.append(holder.reserved.task_id)
        pid = holder.process.pid
        later(1.0, lambda: kill9(pid))

    harness.hooks.append(on_task_started("t01", kill_worker))
    work = preloaded_tasks(sandbox, 8)
    work[1] = Task("t01", {**work[1].payload, "hold": 4.0, "hold_attempts": [1]}, opens=work[1].opens)

    outcomes = harness.run(work)

    assert sorted(outcomes) == [t.task_id for t in work]
    assert all(o.error == "" for o in outcomes.values())
    assert set(harness.finished_counts().values()) == {1}, "no task lost or completed twice"
    assert outcomes["t01"].attempts == 2
    (held,) = reserved
    assert outcomes[held].attempts == 1, "the reserved task was never started: no attempt spent"
    assert all(o.attempts == 1 for o in outcomes.values() if o.task_id != "t01")
    assert len(harness.kinds(WorkerCrashed)) == 1
