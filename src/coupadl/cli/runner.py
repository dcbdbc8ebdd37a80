"""The job of `coupadl run`: PO list → progress store → verified windows → files, results and summary.

The supervisor (this process) is the only writer of the progress store: every state change a worker reports
is committed before the run moves on, so a crash or a kill loses nothing and a rerun resumes.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from coupadl.batch import POList, POOutcome, ProgressStore, tally, write_results, write_run_summary
from coupadl.batch.progress import state_dir
from coupadl.batch.results import RESULTS_CSV, RESULTS_XLSX
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.reports import WindowReport
from coupadl.cli.display import LiveProgress, format_status_table, format_window_table
from coupadl.cli.exit_codes import ExitCode
from coupadl.cli.grid_mode import GridPlan, end_run_sessions, plan_grid, remote_setup
from coupadl.cli.signals import stop_on_signals
from coupadl.cli.wiring import (
    build_launch,
    build_pool,
    build_profiles,
    build_verification,
    check_base_profile,
    min_free_bytes,
)
from coupadl.coupa.po import PONumber, POStatus, po_url
from coupadl.coupa.task import AlreadySaved, POResult, POTask
from coupadl.errors import ConfigError, MachineFaultError
from coupadl.faults import FolderIdentity, check_folder
from coupadl.log import configure_logging, get_logger
from coupadl.pool import PersistentWorkerPool, PoolEvent, Task, TaskOutcome
from coupadl.pool.events import SessionExpired, TaskDispatched, TaskFinished, TaskThrottled, Tick
from coupadl.pool.sources import RemoteWindowSetup
from coupadl.profiles import ProfileManager, VerificationConfig
from coupadl.settings import Settings

__all__ = ["BatchRun", "check_output_folder"]


class BatchRun:
    """One `coupadl run`: owns the progress store, the profiles and the pool for its duration.

    Args:
        settings: The run's settings.
        po_list: The input, already read (an unreadable one never gets here).
        console: Where progress and notes go (quiet with `--quiet`).
        tables: Where the final tables go (the only output of `--quiet`); default `console`.
        verbose: Log lines on the terminal (stderr) too, instead of the live progress view.
    """

    def __init__(
        self,
        settings: Settings,
        po_list: POList,
        console: Console,
        *,
        tables: Console | None = None,
        verbose: bool = False,
    ) -> None:
        self.settings = settings
        self.po_list = po_list
        self.console = console
        self.tables = tables or console
        self.verbose = verbose
        self.out = settings.out.expanduser().resolve()
        self.interrupted = False
        self.pool: PersistentWorkerPool[POTask, POResult] | None = None
        self.fault: str | None = None  # why the machine stopped the run (exit 4)
        self.failure: str | None = None  # the one line `coupadl` prints on stderr for a run that failed
        self._pos: dict[str, PONumber] = {po.digits: po for po in po_list.pos}
        self._letters: dict[int, str] = {}
        self._live: LiveProgress | None = None
        self._store: ProgressStore | None = None
        self._folder: FolderIdentity | None = None
        self._results_dirty = True
        self._results_written_at = 0.0  # when they were last written (or tried); 0.0: not yet in this run
        self._redirect_said: set[str] = set()
        self.grid: GridPlan | None = None  # --grid: the Grid and the windows claimed there
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
        """Run the batch and return the contract's exit code.

        Raises:
            SetupError: Before anything starts (bad output folder, base profile, browser or driver).
            MachineFaultError: The output disk is full or gone before any window started.
        """
        settings = self.settings
        settings.require_base_url()
        check_output_folder(self.out)
        # --grid: address, status, a killed run's sessions deleted, windows claimed; nothing written yet.
        self.grid = plan_grid(settings, self.out)
        if self.grid is not None and self.grid.note:
            self.console.print(f"[yellow]{self.grid.note}[/yellow]")
        # The base profile is checked before anything is written under --out (exit 2 leaves it untouched)
        # and before any browser is probed; it is snapshotted only once there is work for the windows.
        check_base_profile(settings)
        launch = build_launch(settings)
        verification = build_verification(settings)
        started_at = datetime.now(UTC)
        with ProgressStore.open(
            self.out, self.po_list.fingerprint, settings.fresh, input_path=self.po_list.path
        ) as store:
            configure_logging(state_dir(self.out) / "logs" / "main.jsonl", worker="main", echo=self.verbose)
            self._store = store
            self._folder = FolderIdentity.of(self.out)
            try:
                return self._run(store, launch, verification, started_at)
            finally:
                self._folder.close()

    def _run(
        self,
        store: ProgressStore,
        launch: LaunchConfig,
        verification: VerificationConfig,
        started_at: datetime,
    ) -> ExitCode:
        assert self._folder is not None
        check_folder(self._folder, min_free_bytes=min_free_bytes(self.settings))
        store.register(self.po_list.pos)
        todo = store.todo(self.po_list.pos)
        reports: dict[int, WindowReport] = {}
        verified = True
        if not todo:
            self._write_results(store)  # at once: the operator sees the file from the start
        else:
            # The first results are written as soon as the workers are spawned (`_process`); a run that fails
            # before that has them written too.
            try:
                reports, verified = self._work(store, todo, launch, verification)
            except BaseException:
                if not self._results_written_at:
                    self._write_results(store)
                raise
        with suppress(MachineFaultError):
            store.finish_run()
        return self._finish(store, started_at, reports, verified, todo)

    def _work(
        self,
        store: ProgressStore,
        todo: list[PONumber],
        launch: LaunchConfig,
        verification: VerificationConfig,
    ) -> tuple[dict[int, WindowReport], bool]:
        """Snapshot the base, (with `--grid`) carry its cookies, and have the windows do `todo`."""
        profiles = build_profiles(self.settings, verification)
        try:
            remote = (
                remote_setup(self.settings, self.grid, launch, profiles, self.out)
                if self.grid is not None
                else None
            )
            return self._process(store, todo, launch, verification, profiles, remote)
        finally:
            profiles.shutdown()
            shutil.rmtree(state_dir(self.out) / "staging", ignore_errors=True)

    def _process(
        self,
        store: ProgressStore,
        todo: list[PONumber],
        launch: LaunchConfig,
        verification: VerificationConfig,
        profiles: ProfileManager,
        remote: RemoteWindowSetup | None = None,
    ) -> tuple[dict[int, WindowReport], bool]:
        settings = self.settings
        base_url = settings.require_base_url()
        payloads = [self._task(store, po, base_url) for po in todo]
        # `opens`: a window preloads the page of the PO it will do next while it does the one before.
        tasks = [Task(p.po.digits, p, label=p.po.display, opens=p.url) for p in payloads]
        with stop_on_signals(self._interrupt):
            pool = build_pool(
                settings,
                launch,
                verification,
                profiles,
                self.out,
                self._on_event,
                log_echo=self.verbose,
                worker_count=self.grid.windows if self.grid is not None else None,
                remote=remote,
            )
            self.pool = pool
            self._letters = {wid: w.spec.letter for wid, w in pool.workers.items()}
            try:
                with LiveProgress(self.console, len(tasks), self._letters, live=not self.verbose) as live:
                    self._live = live
                    # Each window takes POs as soon as it is verified; no waiting for the slowest. Its first
                    # PO is reserved at once: the page loads while the window is verified.
                    pool.start(wait=False, tasks=tasks)
                    # The first results now, while the workers import and start their browsers: the operator
                    # sees the file from the start, and the spawn did not wait for it.
                    self._write_first_results(store)
                    pool.run(())
                    self._release(store, pool)
            finally:
                self._live = None
                pool.close()
                self.pool = None
                if self.grid is not None:
                    end_run_sessions(self.grid, self.out)
            if pool.fault is not None and self.fault is None:
                self.fault = pool.fault
            reports = pool.reports()
        return reports, pool.any_verified

    def _release(self, store: ProgressStore, pool: PersistentWorkerPool[POTask, POResult]) -> None:
        """Hand the unfinished POs back. On a full disk this may not get written; the next run reclaims
        whatever was in flight anyway."""
        try:
            for task in pool.pending_tasks():
                store.release(self._pos[task.task_id])
        except MachineFaultError as exc:
            self._on_fault(exc)

    def _on_fault(self, exc: MachineFaultError) -> None:
        """Stop the run: the machine failed (first reason wins)."""
        if self.fault is None:
            self.fault = str(exc)
            self.log.error("machine fault", error=str(exc))
        if self.pool is not None:
            self.pool.abort(str(exc))

    def _task(self, store: ProgressStore, po: PONumber, base_url: str) -> POTask:
        saved = {f.key: f.name for f in store.files(po)}
        return POTask(po, po_url(base_url, po), tuple(AlreadySaved(k, n) for k, n in saved.items()))

    def _on_event(self, event: PoolEvent[POResult]) -> None:
        """Commit what a worker reported before the pool moves on; on ticks, watch the output folder and
        rewrite the results when due. A fault of the machine stops the run instead of raising."""
        if self._live is not None:
            self._live.on_event(event)
        store = self._store
        if store is None:
            return
        try:
            match event:
                case TaskDispatched(worker_id=worker_id, task_id=task_id):
                    store.mark_started(self._pos[task_id], self._letters.get(worker_id, ""))
                case SessionExpired(task_id=task_id) | TaskThrottled(task_id=task_id):
                    store.release(self._pos[task_id])
                case TaskFinished(outcome=outcome):
                    self._results_dirty = True
                    self._record(store, outcome, self._letters.get(outcome.worker_id or 0, ""))
                case Tick() if self.fault is None:
                    if self._folder is not None:
                        check_folder(self._folder, min_free_bytes=min_free_bytes(self.settings))
                    due = time.monotonic() - self._results_written_at >= self.settings.results_interval
                    if self._results_dirty and due:
                        self._write_results(store)
        except MachineFaultError as exc:
            self._on_fault(exc)

    def _write_first_results(self, store: ProgressStore) -> None:
        """The results as the windows start; a fault of the machine stops the run as it would later."""
        try:
            self._write_results(store)
        except MachineFaultError as exc:
            self._on_fault(exc)

    def _write_results(self, store: ProgressStore) -> list[Path]:
        """Rewrite the results file(s) from the store (atomically). A locked file is written beside it and
        said once; a fault of the machine is raised."""
        self._results_dirty = False
        self._results_written_at = time.monotonic()
        try:
            written = write_results(self.out, self.po_list, store.all(), base_url=self.settings.base_url)
        except MachineFaultError:
            raise
        except OSError as exc:
            self.console.print(f"[yellow]results not written: {exc}[/yellow]")
            self.log.warning("results not written", error=str(exc))
            return []
        for path in written:
            wanted = RESULTS_XLSX if path.suffix == ".xlsx" else RESULTS_CSV
            if path.name != wanted and path.name not in self._redirect_said:
                self._redirect_said.add(path.name)
                self.console.print(
                    f"[yellow]{self.out / wanted} is open in another program (Excel?): wrote {path} "
                    "beside it; close it and the next write goes back to its own name[/yellow]"
                )
        return written

    def _record(self, store: ProgressStore, outcome: TaskOutcome[POResult], letter: str) -> None:
        po = self._pos[outcome.task_id]
        url = po_url(self.settings.require_base_url(), po)
        if outcome.result is None:
            store.record(
                po, POOutcome(POStatus.FAILED, coupa_url=url, worker=letter, error_message=outcome.error)
            )
            return
        result = outcome.result
        for saved in result.files:
            store.add_file(po, saved.key, saved.name, saved.size, saved.sha256)
        store.record(
            po,
            POOutcome(
                result.status,
                supplier=result.supplier or None,
                attachments_found=result.attachments_found,
                attachments_downloaded=result.attachments_downloaded,
                attachment_names=result.attachment_names,
                download_folder=result.download_folder or None,
                coupa_url=result.coupa_url or url,
                worker=letter,
                error_message=result.error or None,
            ),
        )

    def _finish(
        self,
        store: ProgressStore,
        started_at: datetime,
        reports: dict[int, WindowReport],
        verified: bool,
        todo: list[PONumber],
    ) -> ExitCode:
        progress = store.all()
        totals = tally(self.po_list, progress)
        written: list[Path] = []
        if self._folder is None or self._folder.same():
            written = self._write_final(store, started_at, reports, todo, totals)
        # else the output folder is gone: writing now would make a new one holding nothing but the sheet.
        if reports:
            self.tables.print(format_window_table(reports))
        self.tables.print(format_status_table(totals))
        for path in written:
            self.console.print(f"wrote {path}")
        return self._exit_code(totals, verified)

    def _write_final(
        self,
        store: ProgressStore,
        started_at: datetime,
        reports: dict[int, WindowReport],
        todo: list[PONumber],
        totals: dict[str, int],
    ) -> list[Path]:
        """The results and the run summary, as the run ends; a fault here is noted, never raised."""
        written: list[Path] = []
        try:
            written = self._write_results(store)
            written.append(
                write_run_summary(
                    self.out,
                    started_at=started_at,
                    finished_at=datetime.now(UTC),
                    totals=totals,
                    workers=[report.to_dict() for report in reports.values()],
                    extra={
                        "input": str(self.po_list.path),
                        "out": str(self.out),
                        "interrupted": self.interrupted,
                        "fault": self.fault,
                        "visited": len(todo),
                    },
                )
            )
        except MachineFaultError as exc:
            self._on_fault(exc)
        except OSError as exc:
            self.console.print(f"[yellow]run summary not written: {exc}[/yellow]")
        return written

    def _exit_code(self, totals: dict[str, int], verified: bool) -> ExitCode:
        if self.fault is not None:
            self.failure = f"stopped: {self.fault}"
            return ExitCode.MACHINE_FAULT
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if not verified or totals.get(POStatus.PENDING.value, 0):
            self.failure = (
                "no verified window could finish the list: the POs left are PENDING "
                "(sign in again with `coupadl login`, then rerun the same command)"
            )
            return ExitCode.NO_WINDOW
        failed = totals.get(POStatus.FAILED.value, 0) + totals.get(POStatus.PARTIAL.value, 0)
        if failed:
            self.failure = (
                f"{failed} PO(s) FAILED or PARTIAL: ERROR_MESSAGE in {self.out / RESULTS_CSV} says why; "
                "rerun the same command to try them again"
            )
            return ExitCode.SOME_FAILED
        return ExitCode.OK


def check_output_folder(out: Path) -> None:
    """Refuse (`ConfigError`, exit 2) an `--out` that cannot be a folder: an existing file, or a path
    under one. Nothing is created here."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                what = "is a file" if path == out else f"is under the file {path}"
                raise ConfigError(f"--out {out} {what}: give a folder (it is created if missing)")
            if not os.access(path, os.W_OK | os.X_OK):
                raise ConfigError(f"--out {out}: the folder {path} cannot be written")
            return
