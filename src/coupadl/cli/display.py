"""What the operator sees: the per-window report, the status table, and the live progress of a run.

The `format_*` functions are pure (data in, rich renderable out); `LiveProgress` only reacts to pool events
and never looks inside a worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from coupadl.profiles.models import MethodResult, VerificationMethod, VerificationStatus

if TYPE_CHECKING:  # the pool (and Selenium under it) is not imported just to print an error
    from coupadl.browser.reports import WindowReport
    from coupadl.pool.events import PoolEvent

__all__ = ["LiveProgress", "format_status_table", "format_window_table", "make_console"]

R = TypeVar("R")

_METHODS = (
    VerificationMethod.CAPABILITY_CHECK,
    VerificationMethod.AUTH_CHECK,
    VerificationMethod.FILE_VERIFICATION,
)
_STYLE = {
    "success": "green",
    "failed": "red",
    "timeout": "red",
    "partial": "yellow",
    "skipped": "dim",
    "pending": "dim",
}


def make_console(quiet: bool = False) -> Console:
    """The console every command prints to (stderr stays free for errors)."""
    return Console(quiet=quiet, highlight=False, soft_wrap=False)


def _status_text(text: str, status: str | None = None) -> Text:
    return Text(text, style=_STYLE.get(status or text, ""))


def _method_cell(method: MethodResult | None) -> Text:
    if method is None:
        return Text("-", style="dim")
    status = method.status.value
    shown = {"success": "ok", "skipped": "skip", "timeout": "TIME", "failed": "FAIL"}.get(status, status[:4])
    return _status_text(f"{shown} {round(method.duration_s, 3):.2f}s", status)


def format_window_table(reports: Mapping[int, WindowReport]) -> Group:
    """One row per window (profile type, each verification method with its time, outcome), then each
    window's profile path, its remediation steps and, for a window that failed, the diagnosis."""
    table = Table(title="Windows", title_justify="left")
    table.add_column("win", no_wrap=True)
    table.add_column("profile", no_wrap=True)
    for column in _METHODS:
        table.add_column(column, no_wrap=True)
    table.add_column("verified", no_wrap=True)
    notes: list[Text] = []
    for _worker_id, report in sorted(reports.items()):
        verification = report.verification
        methods = verification.method_results if verification is not None else {}
        status = (
            verification.overall_status if verification is not None else VerificationStatus.FAILED
        ).value
        letter = report.letter
        table.add_row(
            letter,
            report.profile_type.value,
            *(_method_cell(methods.get(method)) for method in _METHODS),
            _status_text("yes" if status == "success" else "NO", status),
        )
        notes.append(Text(f"  {letter}  {report.profile_path}"))
        if report.remote is not None:
            remote = report.remote
            notes.append(
                Text(
                    f"     node {remote.get('node') or '?'}, session {remote.get('session_id', '')[:8]}, "
                    f"{remote.get('browser', '')} {remote.get('browser_version', '')}"
                )
            )
        if report.remediations:
            done = " ".join(f"{s.action.value}:{'ok' if s.succeeded else 'no'}" for s in report.remediations)
            notes.append(Text(f"     remediation: {done}"))
        if report.diagnosis:
            notes.append(Text(f"     {report.diagnosis}", style="red"))
    return Group(table, *notes)


def format_status_table(totals: Mapping[str, int]) -> Table:
    """Count of POs per status."""
    table = Table(title="POs", title_justify="left")
    table.add_column("status")
    table.add_column("count", justify="right")
    for status, count in totals.items():
        table.add_row(status, str(count))
    table.add_row(Text("total", style="bold"), Text(str(sum(totals.values())), style="bold"))
    return table


@dataclass
class _WindowLine:
    letter: str
    profile: str = ""
    current: str = ""
    done: int = 0
    restarts: int = 0
    state: str = "starting"


class LiveProgress:
    """A progress bar (done / total, rate, ETA) and one live line per window, fed by `PoolEvent`s."""

    def __init__(
        self, console: Console, total: int, letters: Mapping[int, str], *, live: bool = True
    ) -> None:
        self.console = console
        self.live = live
        self.progress = Progress(
            TextColumn("[bold]POs"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task("POs", total=total, rate="")
        self.windows = {wid: _WindowLine(letter) for wid, letter in letters.items()}
        self.started = time.monotonic()
        self.done = 0
        self._live: Live | None = None

    def _render(self) -> Group:
        lines: list[Progress | Text] = [self.progress]
        for line in self.windows.values():
            lines.append(
                Text(
                    f"  {line.letter}  {line.state:<11} {line.profile:<6} done {line.done:<5} "
                    f"restarts {line.restarts:<2} {line.current}"
                )
            )
        return Group(*lines)

    def __enter__(self) -> LiveProgress:
        if self.live and not self.console.quiet:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)

    def on_event(self, event: PoolEvent[R]) -> None:
        """Update the view for one event."""
        from coupadl.pool import events  # here: the events name types whose modules import Selenium

        match event:
            case events.WorkerVerified(worker_id=wid, report=report) if line := self.windows.get(wid):
                line.state, line.profile = "ready", report.profile_type.value
            case (
                events.WorkerNotVerified(worker_id=wid, reason=reason)
                | events.WorkerFailed(worker_id=wid, reason=reason)
            ) if line := self.windows.get(wid):
                line.state, line.current = "failed", reason[:80]
            case events.WorkerRestarting(worker_id=wid, restarts=restarts) if line := self.windows.get(wid):
                line.state, line.restarts = "restarting", restarts
            case events.TaskDispatched(worker_id=wid, task_id=task_id) if line := self.windows.get(wid):
                line.state, line.current = "working", task_id
            case events.TaskThrottled(worker_id=wid, retry_after_s=wait) if line := self.windows.get(wid):
                line.state, line.current = "waiting", f"site busy (HTTP 429): retry in {wait:g} s"
            case events.TaskFinished(outcome=outcome):
                self.done += 1
                if line := self.windows.get(outcome.worker_id or 0):
                    line.done += 1
                    line.current = ""
                    line.state = "idle"
                elapsed = max(1e-6, time.monotonic() - self.started)
                self.progress.update(
                    self.task, completed=self.done, rate=f"{self.done * 60 / elapsed:.0f}/min"
                )
        if self._live is not None:
            self._live.update(self._render())
