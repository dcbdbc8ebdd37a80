"""The typed seam through real worker processes: a task (`POTask`) and the handler's options (`JobOptions`) go
to a spawned worker, its result, its window's `WindowReport` and its failures come back as the same objects.

The handler is `support.handlers:echo`, which returns what the worker handed it; every message is a real
`coupadl.pool.messages` one, sent by `coupadl.pool.worker` and read by `PersistentWorkerPool`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.window import WindowReport
from coupadl.coupa.job import JobOptions
from coupadl.coupa.po import parse_po_number
from coupadl.coupa.task import AlreadySaved, POTask
from coupadl.pool import Task
from coupadl.pool.events import TaskDispatched, TaskFinished, TaskRunning, WorkerVerified
from coupadl.pool.messages import WorkerUnverified
from coupadl.pool.worker import EXIT_OK, EXIT_UNVERIFIED, WorkerSpec, worker_main
from coupadl.profiles.manager import ProfileConfig
from coupadl.profiles.models import ProfileType, VerificationConfig, VerificationMethod, VerificationStatus
from coupadl.sandbox import SandboxServer
from support.handlers import EchoResult
from support.pool_harness import PoolHarness, short_dir

pytestmark = [pytest.mark.browser]


def test_a_real_worker_carries_typed_tasks_results_reports_and_errors(
    signed_in_profile: Path, launch_config: LaunchConfig, sandbox: SandboxServer, tmp_path: Path
) -> None:
    options = JobOptions(base_url=sandbox.base_url, out_dir=tmp_path / "out", settle_quiet=0.5)
    harness = PoolHarness(
        signed_in_profile,
        launch_config,
        sandbox.base_url,
        workers=1,
        handler="support.handlers:echo",
        handler_options=options,
    )
    po = parse_po_number("PO15262984")
    assert po is not None
    task = POTask(po, sandbox.po_url(po.digits), (AlreadySaved(sandbox.url("/a/1"), "quote.pdf"),))
    try:
        (report,) = harness.start().values()
        outcomes = harness.run([Task(po.digits, task, label=po.display), Task("t-fail", "fail")])
        assert harness.pool is not None
        worker = harness.pool.workers[1]
    finally:
        harness.close()
    try:
        # WorkerReady: the report the worker built arrived as a WindowReport, the pool only added its counts.
        assert isinstance(report, WindowReport) and report.verified and report.status == "ready"
        (ready,) = harness.kinds(WorkerVerified)
        assert ready.report == replace(report, status="", processed=0, restarts=0)
        assert ready.report.verification is not None
        assert set(ready.report.verification.method_results) == set(VerificationMethod)
        assert ready.report.profile_type is ProfileType.CLONE

        # RunTask → TaskStarted → TaskDone: what the handler got is what was sent, typed.
        done = outcomes[po.digits]
        assert (done.error, done.attempts, done.worker_id) == ("", 1, 1)
        assert done.result == EchoResult(task, options, 1, po.digits, po.display)
        assert isinstance(done.result.payload, POTask) and done.result.payload.saved == task.saved
        assert [(e.worker_id, e.task_id) for e in harness.kinds(TaskRunning)] == [
            (1, po.digits),
            (1, "t-fail"),
        ]
        assert [e.attempt for e in harness.kinds(TaskDispatched)] == [1, 1]

        # TaskError: a permanent failure is the task's outcome, not a crash of the worker.
        failed = outcomes["t-fail"]
        assert failed.result is None and "echo was asked to fail" in failed.error and failed.attempts == 1
        assert [e.outcome for e in harness.kinds(TaskFinished)] == [done, failed]

        # Stop: the worker understood it and ended cleanly.
        assert worker.process is not None and worker.process.exitcode == EXIT_OK
        assert harness.leftovers() == [] and harness.leftover_folders() == []
    finally:
        harness.cleanup()


def test_a_worker_without_its_profile_sends_its_report_and_exits(
    launch_config: LaunchConfig, tmp_path: Path
) -> None:
    """WorkerUnverified from a real worker: the clone's snapshot is missing, so no browser ever starts."""
    root = short_dir("cdl-u-")
    missing = root / "run" / "snapshot"
    config = ProfileConfig(base_profile_path=tmp_path / "base", temp_directory=root)
    spec = WorkerSpec(
        worker_id=2,
        profile_type=ProfileType.CLONE,
        base_profile_path=tmp_path / "base",
        profile_name="Default",
        launch=launch_config,
        verification=VerificationConfig(auth_check_url="http://127.0.0.1:9/user/home"),
        handler="support.handlers:echo",
        download_dir=root / "staging",
        supervisor_pid=os.getpid(),
        profile_setup={"config": config, "snapshot_path": missing},
        log_file=root / "window-B.jsonl",
    )
    ctx = mp.get_context("spawn")
    inbox: Any = ctx.Queue()
    outbox: Any = ctx.Queue()
    slots = ctx.BoundedSemaphore(1)  # held here until the child has it
    child = ctx.Process(target=worker_main, args=(spec, inbox, outbox, slots))
    child.start()
    try:
        msg = outbox.get(timeout=60)
        child.join(timeout=30)
        assert child.exitcode == EXIT_UNVERIFIED
    finally:
        if child.is_alive():
            psutil.Process(child.pid).kill()
            child.join(timeout=10)
        inbox.close()
        outbox.close()
        shutil.rmtree(root, ignore_errors=True)
    assert isinstance(msg, WorkerUnverified) and msg.worker_id == 2 and not msg.driver_fault
    assert msg.reason, "the reason names what went wrong"
    assert isinstance(msg.report, WindowReport)
    assert msg.report == WindowReport(2, ProfileType.CLONE, Path(), diagnosis=msg.reason)
    assert msg.report.to_dict()["verification"]["status"] == VerificationStatus.FAILED.value
