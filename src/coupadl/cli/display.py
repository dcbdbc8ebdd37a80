"""What the operator sees: the per-window report, the status table, and the live progress of a run.

The `format_*` functions are pure (data in, rich renderable out); `LiveProgress` only reacts to pool events
and never looks inside a worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # the pool (and Selenium under it) is not imported just to print an error
    from coupadl.pool.events import PoolEvent

__all__ = ["LiveProgress", "format_status_table", "format_window_table", "make_console"]

_METHODS = ("capability", "authentication", "file")
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


def _method_cell(method: Mapping[str, Any] | None) -> Text:
    if not method:
        return Text("-", style="dim")
    status = str(method["status"])
    shown = {"success": "ok", "skipped": "skip", "timeout": "TIME", "failed": "FAIL"}.get(status, status[:4])
    return _status_text(f"{shown} {float(method['duration_s']):.2f}s", status)


def format_window_table(reports: Mapping[int, Mapping[str, Any]]) -> Group:
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
        verification = report.get("verification") or {}
        methods = verification.get("methods") or {}
        status = str(verification.get("status", "pending"))
        letter = str(report.get("window", ""))
        table.add_row(
            letter,
            str(report.get("profile_type", "")),
            *(_method_cell(methods.get(name)) for name in _METHODS),
            _status_text("yes" if status == "success" else "NO", status),
        )
        notes.append(Text(f"  {letter}  {report.get('profile_path', '')}"))
        steps = report.get("remediations") or []
        if steps:
            done = " ".join(f"{s['step']}:{'ok' if s['outcome'] == 'success' else 'no'}" for s in steps)
            notes.append(Text(f"     remediation: {done}"))
        if report.get("diagnosis"):
            notes.append(Text(f"     {report['diagnosis']}", style="red"))
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

    def on_event(self, event: PoolEvent) -> None:
        """Update the view for one event."""
        line = self.windows.get(event.worker_id) if event.worker_id is not None else None
        data = event.data
        if event.kind == "worker_ready" and line:
            line.state, line.profile = "ready", str(data.get("report", {}).get("profile_type", ""))
        elif event.kind in ("worker_unverified", "worker_failed") and line:
            line.state, line.current = "failed", str(data.get("reason", ""))[:80]
        elif event.kind == "worker_restarting" and line:
            line.state, line.restarts = "restarting", int(data.get("restarts", 0))
        elif event.kind == "task_dispatched" and line:
            line.state, line.current = "working", str(data.get("task_id", ""))
        elif event.kind == "task_throttled" and line:
            line.state, line.current = (
                "waiting",
                f"site busy (HTTP 429): retry in {data.get('retry_after_s', 0):g} s",
            )
        elif event.kind == "task_finished":
            self.done += 1
            if line:
                line.done += 1
                line.current = ""
                line.state = "idle"
            elapsed = max(1e-6, time.monotonic() - self.started)
            self.progress.update(self.task, completed=self.done, rate=f"{self.done * 60 / elapsed:.0f}/min")
        if self._live is not None:
            self._live.update(self._render())
