"""The job of `coupadl run`: PO list → progress store → verified windows → files, results and summary.

The supervisor (this process) is the only writer of the progress store: every state change a worker reports
is committed before the run moves on, so a crash or a kill loses nothing and a rerun resumes.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from coupadl.batch import POList, POOutcome, ProgressStore, tally, write_results, write_run_summary
from coupadl.batch.progress import state_dir
from coupadl.cli.display import LiveProgress, format_status_table, format_window_table
from coupadl.cli.exit_codes import ExitCode
from coupadl.cli.wiring import (
    build_launch,
    build_pool,
    build_profiles,
    build_verification,
    check_base_profile,
)
from coupadl.coupa.po import PONumber, POStatus, po_url
from coupadl.log import configure_logging, get_logger
from coupadl.pool import PersistentWorkerPool, PoolEvent, Task, TaskOutcome
from coupadl.settings import Settings

__all__ = ["BatchRun", "stop_on_signals"]


@contextmanager
def stop_on_signals(on_signal: Any) -> Iterator[None]:
    """Route Ctrl+C and SIGTERM to `on_signal` (first: drain, second: force) instead of raising."""
    handled = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {sig: signal.getsignal(sig) for sig in handled}
    for sig in handled:
        signal.signal(sig, lambda _s, _f: on_signal())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class BatchRun:
    """One `coupadl run`: owns the progress store, the profiles and the pool for its duration."""

    def __init__(self, settings: Settings, po_list: POList, console: Console) -> None:
        self.settings = settings
        self.po_list = po_list
        self.console = console
        self.out = settings.out.expanduser().resolve()
        self.interrupted = False
        self.pool: PersistentWorkerPool | None = None
        self._pos: dict[str, PONumber] = {po.digits: po for po in po_list.pos}
        self._letters: dict[int, str] = {}
        self._live: LiveProgress | None = None
        self._store: ProgressStore | None = None
        self.log = get_logger("coupadl.run")

    def _interrupt(self) -> None:
        if self.interrupted and self.pool is not None:
            self.console.print("[red]second interrupt: ending every window now[/red]")
        elif not self.interrupted:
            self.console.print(
                "[yellow]interrupted: finishing current POs, then closing the windows[/yellow]"
            )
        self.interrupted = True
        if self.pool is not None:
            self.pool.request_stop()

    def execute(self) -> ExitCode:
        """Run the batch and return the contract's exit code. Raises `SetupError` before anything starts."""
        settings = self.settings
        settings.require_base_url()
        launch = build_launch(settings)
        verification = build_verification(settings)
        started_at = datetime.now(UTC)
        # The base profile is checked before anything is written under --out (exit 2 leaves it untouched);
        # it is snapshotted only once there is work for the windows.
        check_base_profile(settings)
        with ProgressStore.open(
            self.out, self.po_list.fingerprint, settings.fresh, input_path=self.po_list.path
        ) as store:
            configure_logging(state_dir(self.out) / "logs" / "main.jsonl", worker="main")
            self._store = store
            store.register(self.po_list.pos)
            todo = store.todo(self.po_list.pos)
            reports: dict[int, dict[str, Any]] = {}
            verified = True
            if todo:
                profiles = build_profiles(settings, verification)
                try:
                    reports, verified = self._process(store, todo, launch, verification, profiles)
                finally:
                    profiles.shutdown()
            store.finish_run()
            return self._finish(store, started_at, reports, verified, todo)

    def _process(
        self, store: ProgressStore, todo: list[PONumber], launch: Any, verification: Any, profiles: Any
    ) -> tuple[dict[int, dict[str, Any]], bool]:
        settings = self.settings
        base_url = settings.require_base_url()
        tasks = [Task(po.digits, self._payload(store, po, base_url)) for po in todo]
        with stop_on_signals(self._interrupt):
            pool = build_pool(settings, launch, verification, profiles, self.out, self._on_event)
            self.pool = pool
            self._letters = {wid: w.spec.letter for wid, w in pool.workers.items()}
            try:
                with LiveProgress(self.console, len(tasks), self._letters) as live:
                    self._live = live
                    # Each window takes POs as soon as it is verified; no waiting for the slowest.
                    pool.start(wait=False)
                    pool.run(tasks)
                    for task in pool.pending_tasks():
                        store.release(self._pos[task.task_id])
            finally:
                self._live = None
                pool.close()
                self.pool = None
            reports = pool.reports()
        return reports, pool.any_verified

    def _payload(self, store: ProgressStore, po: PONumber, base_url: str) -> dict[str, Any]:
        return {
            "po": po.display,
            "digits": po.digits,
            "url": po_url(base_url, po),
            "saved": {f.attachment_key: f.saved_name for f in store.files(po)},
        }

    def _on_event(self, event: PoolEvent) -> None:
        """Commit what a worker reported before the pool moves on."""
        if self._live is not None:
            self._live.on_event(event)
        store = self._store
        if store is None:
            return
        letter = self._letters.get(event.worker_id or 0, "")
        if event.kind == "task_dispatched":
            store.mark_started(self._pos[event.data["task_id"]], letter)
        elif event.kind in ("session_expired", "task_throttled"):
            store.release(self._pos[event.data["task_id"]])
        elif event.kind == "task_finished":
            self._record(store, event.data["outcome"], letter)

    def _record(self, store: ProgressStore, outcome: TaskOutcome, letter: str) -> None:
        po = self._pos[outcome.task_id]
        url = po_url(self.settings.require_base_url(), po)
        if outcome.result is None:
            store.record(
                po, POOutcome(POStatus.FAILED, coupa_url=url, worker=letter, error_message=outcome.error)
            )
            return
        result = outcome.result
        for saved in result.get("files", []):
            store.add_file(po, saved["key"], saved["name"], int(saved["size"]), saved["sha256"])
        store.record(
            po,
            POOutcome(
                POStatus(result["status"]),
                supplier=result.get("supplier") or None,
                attachments_found=result.get("attachments_found"),
                attachments_downloaded=result.get("attachments_downloaded"),
                attachment_names=tuple(result.get("attachment_names", ())),
                download_folder=result.get("download_folder") or None,
                coupa_url=result.get("coupa_url") or url,
                worker=letter,
                error_message=result.get("error") or None,
            ),
        )

    def _finish(
        self,
        store: ProgressStore,
        started_at: datetime,
        reports: dict[int, dict[str, Any]],
        verified: bool,
        todo: list[PONumber],
    ) -> ExitCode:
        progress = store.all()
        totals = tally(self.po_list, progress)
        written = write_results(self.out, self.po_list, progress, base_url=self.settings.base_url)
        summary = write_run_summary(
            self.out,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            totals=totals,
            workers=list(reports.values()),
            extra={
                "input": str(self.po_list.path),
                "out": str(self.out),
                "interrupted": self.interrupted,
                "visited": len(todo),
            },
        )
        if reports:
            self.console.print(format_window_table(reports))
        self.console.print(format_status_table(totals))
        for path in [*written, summary]:
            self.console.print(f"wrote {path}")
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if not verified or totals.get(POStatus.PENDING.value, 0):
            self.console.print(
                "[red]no verified window could finish the list: the POs left are PENDING "
                "(sign in again with `coupadl login`, then rerun the same command)[/red]"
            )
            return ExitCode.NO_WINDOW
        if totals.get(POStatus.FAILED.value, 0) or totals.get(POStatus.PARTIAL.value, 0):
            return ExitCode.SOME_FAILED
        return ExitCode.OK
