"""Every message the supervisor and a worker exchange, with the typed task, result and window report inside,
survives a trip to a spawned process and back: same type (in the child too), equal value."""

from __future__ import annotations

import multiprocessing as mp
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from coupadl.browser.processes import TrackedProcess
from coupadl.browser.window import RemediationAction, RemediationStep, WindowReport
from coupadl.coupa.po import POStatus, SavedFile, parse_po_number
from coupadl.coupa.task import AlreadySaved, POResult, POTask
from coupadl.pool.messages import (
    FailureKind,
    RunTask,
    Stop,
    TaskDone,
    TaskError,
    TaskStarted,
    WorkerReady,
    WorkerUnverified,
)
from coupadl.profiles.models import (
    MethodResult,
    ProfileType,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
)
from support.relay import relay

URL = "https://acme.coupahost.com/order_headers/15262984"


def _report(worker_id: int, ok: bool) -> WindowReport:
    started = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    methods = {
        VerificationMethod.CAPABILITY_CHECK: MethodResult(
            VerificationStatus.SUCCESS, 0.012, "user-data-dir ok"
        ),
        VerificationMethod.AUTH_CHECK: MethodResult(
            VerificationStatus.SUCCESS if ok else VerificationStatus.FAILED, 0.4, "" if ok else "sign-in"
        ),
        VerificationMethod.FILE_VERIFICATION: MethodResult(VerificationStatus.SKIPPED, 0.0),
    }
    return WindowReport(
        worker_id,
        ProfileType.CLONE,
        Path(f"/tmp/coupadl-0/r1/w{worker_id}"),
        verification=VerificationResult(
            worker_id,
            methods,
            started,
            started,
            retry_count=0 if ok else 2,
            error_details=None if ok else "x",
        ),
        remediations=[]
        if ok
        else [RemediationStep(RemediationAction.RELOAD, False, 1.25, "still signed out")],
        diagnosis="" if ok else "redirected to sign-in",
        processed=3,
        restarts=1,
        browser_pid=4242,
        status="" if ok else "failed",
    )


def _messages() -> list[object]:
    po = parse_po_number("PO15262984")
    assert po is not None
    task = POTask(po, URL, (AlreadySaved(f"{URL}/attachments/1", "quote.pdf"),))
    result = POResult(
        POStatus.PARTIAL,
        coupa_url=URL,
        supplier="Müller & Söhne GmbH",
        attachments_found=2,
        attachments_downloaded=1,
        attachment_names=("quote.pdf",),
        download_folder="/out/Müller & Söhne GmbH/PO15262984",
        error="not saved: terms.pdf: HTTP 500",
        files=(SavedFile(f"{URL}/attachments/1", "quote.pdf", 1024, "ab" * 32, Path("/out/x/quote.pdf")),),
    )
    me = TrackedProcess.of(os.getpid(), "worker")
    assert me is not None
    return [
        RunTask(po.digits, task, 2, po.display),
        WorkerReady(1, _report(1, True), (me, TrackedProcess(1234, 1.5, "browser")), "/tmp/coupadl-0/r1/w1"),
        WorkerUnverified(2, _report(2, False), "redirected to sign-in", driver_fault=True),
        TaskStarted(1, po.digits),
        TaskDone(1, po.digits, result, 12.5),
        TaskError(1, po.digits, FailureKind.THROTTLED, "HTTP 429", retry_after_s=30.0),
        Stop("memory"),
    ]


def test_every_message_survives_a_spawned_process_and_back() -> None:
    ctx = mp.get_context("spawn")
    inbox: Any = ctx.Queue()
    outbox: Any = ctx.Queue()
    child = ctx.Process(target=relay, args=(inbox, outbox), name="coupadl-relay")
    child.start()
    try:
        sent = _messages()
        assert {type(m).__name__ for m in sent} == {
            "RunTask", "Stop", "WorkerReady", "WorkerUnverified", "TaskStarted", "TaskDone", "TaskError"
        }  # fmt: skip
        for msg in sent:
            inbox.put(msg)
        back = [outbox.get(timeout=60) for _ in sent]
        child.join(timeout=30)
        assert child.exitcode == 0
    finally:
        if child.is_alive():
            psutil.Process(child.pid).kill()
            child.join(timeout=10)
        inbox.close()
        outbox.close()

    for msg, (module, name, returned) in zip(sent, back, strict=True):
        assert (module, name) == (type(msg).__module__, type(msg).__qualname__), "same type in the child"
        assert type(returned) is type(msg)
        assert returned == msg
    ready, unverified, done = back[1][2], back[2][2], back[4][2]
    assert isinstance(ready.report, WindowReport) and ready.report.verified
    assert (
        not unverified.report.verified
        and unverified.report.remediations[0].action is RemediationAction.RELOAD
    )
    assert isinstance(done.result, POResult) and done.result.status is POStatus.PARTIAL
    assert isinstance(back[0][2].payload, POTask) and back[0][2].payload.saved_names() == {
        f"{URL}/attachments/1": "quote.pdf"
    }
    # The JSON form of a report that crossed is the one of the report sent (output files are written from it).
    assert unverified.report.to_dict() == sent[2].report.to_dict()  # type: ignore[attr-defined]


def test_the_handler_the_cli_names_is_the_coupa_job() -> None:
    """A worker resolves its handler by name; the name the CLI gives is `process_po` (whose signature mypy
    checks against `TaskHandler[POTask, JobOptions, POResult]` in `coupadl.cli.wiring`)."""
    from coupadl.cli.wiring import COUPA_HANDLER
    from coupadl.coupa.job import process_po
    from coupadl.pool.tasks import resolve_handler

    assert resolve_handler(COUPA_HANDLER) is process_po
    assert resolve_handler("support.handlers:echo").__name__ == "echo"
