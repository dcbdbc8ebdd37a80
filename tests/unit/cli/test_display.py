"""The operator's tables: what they say, and that they fit a normal terminal."""

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from coupadl.browser.window import RemediationAction, RemediationStep, WindowReport
from coupadl.cli.display import LiveProgress, format_status_table, format_window_table
from coupadl.pool.events import (
    TaskDispatched,
    TaskFinished,
    TaskThrottled,
    Tick,
    WorkerFailed,
    WorkerRestarting,
    WorkerVerified,
)
from coupadl.pool.tasks import TaskOutcome
from coupadl.profiles.models import (
    MethodResult,
    ProfileType,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
)


def _report(letter: str, ok: bool) -> WindowReport:
    worker_id = "AB".index(letter) + 1
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    methods = {
        VerificationMethod.CAPABILITY_CHECK: MethodResult(VerificationStatus.SUCCESS, 0.0),
        VerificationMethod.AUTH_CHECK: MethodResult(
            VerificationStatus.SUCCESS if ok else VerificationStatus.FAILED, 0.4
        ),
        VerificationMethod.FILE_VERIFICATION: MethodResult(VerificationStatus.SKIPPED, 0.0),
    }
    steps = [
        RemediationStep(action, outcome, 1.0, "")
        for action, outcome in (
            (RemediationAction.RELOAD, False),
            (RemediationAction.RECLONE, False),
            (RemediationAction.RESTART, True),
        )
    ]
    return WindowReport(
        worker_id,
        ProfileType.BASE if letter == "A" else ProfileType.CLONE,
        Path(f"/tmp/coupadl-0/r1/w{letter}"),
        verification=VerificationResult(worker_id, methods, now, now, retry_count=0 if ok else 3),
        remediations=[] if ok else steps,
        diagnosis="" if ok else "redirected to sign-in page 127.0.0.1/sessions/new",
    )


def _render(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_window_table_fits_80_columns_and_names_the_failure() -> None:
    text = _render(format_window_table({1: _report("A", True), 2: _report("B", False)}))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "/tmp/coupadl-0/r1/wA" in text and "/tmp/coupadl-0/r1/wB" in text
    assert "redirected to sign-in page" in text
    assert "reload:no" in text and "reclone:no" in text and "restart:ok" in text
    assert "FAIL" in text and "ok" in text


def test_status_table_counts_and_total() -> None:
    text = _render(format_status_table({"COMPLETED": 3, "FAILED": 1}))
    assert "COMPLETED" in text and "total" in text
    assert text.split("total")[1].split()[1] == "4"


def test_window_table_shows_each_method_with_its_time() -> None:
    text = _render(format_window_table({1: _report("A", True)}), width=120)
    row = next(line for line in text.splitlines() if line.startswith("│ A "))
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells == ["A", "base", "ok 0.00s", "ok 0.40s", "skip 0.00s", "yes"]


def test_live_progress_follows_each_kind_of_event() -> None:
    console = Console(width=120, record=True, color_system=None)
    progress = LiveProgress(console, total=3, letters={1: "A", 2: "B"}, live=False)
    a, b = progress.windows[1], progress.windows[2]
    progress.on_event(WorkerVerified(1, _report("A", True), restarts=0))
    assert (a.state, a.profile) == ("ready", "base")
    progress.on_event(TaskDispatched(1, "15262984", attempt=1))
    assert (a.state, a.current) == ("working", "15262984")
    progress.on_event(TaskThrottled(1, "15262984", retry_after_s=2.5, message="429"))
    assert (a.state, a.current) == ("waiting", "site busy (HTTP 429): retry in 2.5 s")
    progress.on_event(TaskFinished(TaskOutcome("15262984", 1, 1, result="done")))
    assert (a.state, a.current, a.done, progress.done) == ("idle", "", 1, 1)
    progress.on_event(TaskFinished(TaskOutcome("15262985", None, 3, error="no window left")))
    assert progress.done == 2 and a.done == 1 and b.done == 0
    progress.on_event(WorkerRestarting(2, restarts=1))
    assert (b.state, b.restarts) == ("restarting", 1)
    progress.on_event(WorkerFailed(2, "x" * 100))
    assert (b.state, b.current) == ("failed", "x" * 80)
    progress.on_event(Tick())
    assert (a.state, b.state, progress.done) == ("idle", "failed", 2)
