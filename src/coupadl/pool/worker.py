"""The worker process: one verified browser for the whole batch, one task tab re-used across tasks and
replaced after any failure (seed 002 `Worker`; see `coupadl.browser.session`).

It runs in its own process (spawn start method) and its own process group, so a Ctrl+C in the terminal reaches
only the supervisor, which then drains the workers in order. A watchdog thread notices when the supervisor is
gone (killed outright) and closes the browser and removes the clone within seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.processes import TrackedProcess, end_trees
from coupadl.browser.verification import check_authentication
from coupadl.errors import (
    CoupadlError,
    MachineFaultError,
    PermanentTaskError,
    ProfileOperationError,
    RetryableTaskError,
    SessionExpiredError,
    ThrottledError,
    WindowError,
)
from coupadl.log import bind, configure_logging, get_logger
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
from coupadl.pool.sources import RemoteWindowSetup, WindowSource, prepare_profile, window_source
from coupadl.pool.tasks import TaskHandler, resolve_handler
from coupadl.processes import ProcessIdentity
from coupadl.profiles.models import (
    ProfileType,
    VerificationConfig,
    VerificationStatus,
    window_letter,
)

if TYPE_CHECKING:  # the window's session comes from its `WindowSource` (the supervisor imports no browser)
    from coupadl.browser.session import BrowserSession

__all__ = ["TaskHandler", "WorkerSpec", "prepare_profile", "resolve_handler", "worker_main"]

# Exit codes of a worker process, so the supervisor can tell a deliberate end from a crash.
EXIT_OK = 0
EXIT_UNVERIFIED = 3
EXIT_WINDOW_LOST = 4
EXIT_SUPERVISOR_GONE = 5

CLOSE_WAIT_S = 60.0  # how long a second closer waits for the first (a browser quit plus a clone removal)


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs, picklable for the spawn start method."""

    worker_id: int
    profile_type: ProfileType
    base_profile_path: Path
    profile_name: str
    launch: LaunchConfig
    verification: VerificationConfig
    handler: str  # "package.module:function" of a `TaskHandler` (see `coupadl.pool.tasks.resolve_handler`)
    download_dir: Path
    supervisor_pid: int
    profile_setup: dict[str, Any] = field(default_factory=dict)  # how to make/attach the clone
    handler_options: object = field(default_factory=dict)  # the handler's third argument
    log_file: Path | None = None
    window_budget_s: float = 180.0
    log_echo: bool = False  # log lines on the terminal too (`-v`)
    remote: RemoteWindowSetup | None = None  # set: the window is a Selenium Grid session (`pool.sources`)
    first_preload: str = ""  # the page of the task reserved for the window's start: loaded while verifying

    @property
    def letter(self) -> str:
        """Window letter: worker 1 is A."""
        return window_letter(self.worker_id)


class _WorkerRuntime:
    """The worker's state: its window (from its `WindowSource`), its handler."""

    def __init__(self, spec: WorkerSpec, outbox: Any, clone_slots: Any) -> None:
        self.spec = spec
        self.outbox = outbox
        self.handler: TaskHandler[object, object, object] = resolve_handler(spec.handler)
        self.source: WindowSource = window_source(spec, clone_slots)
        self.processed = 0
        self._closing = threading.Lock()
        self._closer: int | None = None  # the thread that is closing
        self._closed = threading.Event()
        self.log = get_logger("coupadl.worker")

    @property
    def session(self) -> BrowserSession | None:
        """The verified window's session."""
        return self.source.session

    def open_window(self) -> bool:
        spec = self.spec
        opened = self.source.open()
        report = opened.report
        session = self.source.session
        if not opened.ok or session is None:
            reason = opened.reason or "not verified"
            self.outbox.put(WorkerUnverified(spec.worker_id, report, reason, opened.driver_fault))
            return False
        processes = tuple(session.tracked_processes)
        self.outbox.put(WorkerReady(spec.worker_id, report, processes, str(report.profile_path)))
        self.source.activate()
        return True

    def run(self, msg: RunTask[object]) -> bool:
        """Process one task. Returns False when the window is lost and the worker must exit."""
        session = self.session
        assert session is not None
        self.outbox.put(TaskStarted(self.spec.worker_id, msg.task_id))
        bind(po=msg.label or msg.task_id)
        started = time.monotonic()
        try:
            for refreshed in (False, True):
                try:
                    with session.open_tab(
                        msg.task_id, msg.label, opens=msg.opens, preload=msg.preload
                    ) as tab:
                        result = self.handler(tab, msg.payload, self.spec.handler_options, msg.attempt)
                    break
                except SessionExpiredError as exc:
                    # Refresh the session in the same browser once; a real expiry stays signed out.
                    if refreshed or not self._session_refreshed():
                        self.log.warning("session expired", redirected_to=exc.redirected_to)
                        self._error(msg, FailureKind.SESSION_EXPIRED, str(exc))
                        return False
                    self.log.info("session refreshed, task runs again")
            self.processed += 1
            self.outbox.put(TaskDone(self.spec.worker_id, msg.task_id, result, time.monotonic() - started))
            return True
        except WindowError as exc:
            self._error(msg, FailureKind.WINDOW_CRASHED, str(exc))
            return False
        except ThrottledError as exc:
            self._error(msg, FailureKind.THROTTLED, str(exc), retry_after_s=exc.retry_after_s)
        except RetryableTaskError as exc:
            self._error(msg, FailureKind.RETRYABLE, str(exc))
        except PermanentTaskError as exc:
            self._error(msg, FailureKind.PERMANENT, str(exc))
        except MachineFaultError as exc:
            self._error(msg, FailureKind.FATAL, str(exc))
        except Exception as exc:
            self.log.exception("handler failed")
            if not session.is_alive():
                self._error(msg, FailureKind.WINDOW_CRASHED, f"browser lost: {exc}")
                return False
            self._error(msg, FailureKind.PERMANENT, f"{type(exc).__name__}: {exc}")
            return True  # the browser answered just now
        finally:
            bind(po=None)
        if session.is_alive():
            return True
        self.log.warning("browser lost after a task", task=msg.task_id)
        return False

    def _session_refreshed(self) -> bool:
        assert self.session is not None
        try:
            result = check_authentication(
                self.session,
                self.spec.verification.auth_check_url,
                self.spec.verification.auth_check_timeout,
            )
        except CoupadlError:
            return False
        return result.status is VerificationStatus.SUCCESS

    def _error(
        self, msg: RunTask[object], kind: FailureKind, message: str, *, retry_after_s: float = 0.0
    ) -> None:
        self.log.warning("task failed", kind=kind.value, error=message)
        self.outbox.put(TaskError(self.spec.worker_id, msg.task_id, kind, message, retry_after_s))

    def close(self) -> bool:
        """Quit the browser cleanly, then remove the clone (only after the browser is gone). Idempotent.

        Returns False only when called again on the thread that is closing (a signal handler that interrupted
        the close): the interrupted close must then be let finish, not cut short by an exit.

        May run on the watchdog thread or in a signal handler while the main thread is between two steps
        of a remediation; cancelling the window first keeps it from starting another browser meanwhile,
        and every process this worker started is then ended by PID.
        """
        if not self._closing.acquire(blocking=False):
            if self._closer != threading.get_ident():
                # Another thread is closing (the watchdog, or the main thread after a lost window): wait for
                # it, or this thread's exit would cut the clone's removal short.
                self._closed.wait(timeout=CLOSE_WAIT_S)
                return True
            return False
        self._closer = threading.get_ident()
        try:
            self._close()
        finally:
            self._closed.set()
        return True

    def _close(self) -> None:
        self.source.cancel()
        session = self.source.session
        pids = [p.pid for p in session.tracked_processes] if session else []
        try:
            self.source.close()
        except Exception as exc:  # noqa: BLE001 - whatever failed, the processes are ended below
            self.log.warning("window close failed", error=str(exc))
        pids += _end_own_descendants()
        self.source.cleanup(pids)


def _end_own_descendants() -> list[int]:
    """End (by PID) every process this worker started that is still running: drivers and browsers."""
    ended: list[int] = []
    for _ in range(2):  # a second pass catches a driver that was starting during the first
        children = psutil.Process().children(recursive=True)
        if not children:
            break
        ended += end_trees([TrackedProcess.of(c.pid, "descendant") for c in children], timeout=3.0)
        time.sleep(0.2)
    return ended


def _watch_supervisor(supervisor_pid: int, runtime: _WorkerRuntime) -> None:
    """Close everything and exit if the supervisor dies (e.g. kill -9), so no browser is orphaned."""
    supervisor = ProcessIdentity.of(supervisor_pid)
    while True:
        time.sleep(0.5)
        gone = supervisor is None or not supervisor.is_alive(if_unknown=True)
        if gone:
            runtime.log.warning("supervisor gone, closing the window")
            runtime.close()
            os._exit(EXIT_SUPERVISOR_GONE)


def worker_main(spec: WorkerSpec, inbox: Any, outbox: Any, clone_slots: Any) -> None:
    """Entry point of a worker process."""
    if hasattr(os, "setsid"):
        with contextlib.suppress(OSError):
            os.setsid()  # own process group: the terminal's Ctrl+C goes to the supervisor only
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(spec.log_file, worker=spec.letter, echo=spec.log_echo)
    runtime = _WorkerRuntime(spec, outbox, clone_slots)

    def on_term(_signum: int, _frame: Any) -> None:
        if runtime.close():
            os._exit(EXIT_OK)

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(
        target=_watch_supervisor, args=(spec.supervisor_pid, runtime), daemon=True, name="supervisor-watch"
    ).start()
    code = EXIT_OK
    try:
        if not runtime.open_window():
            code = EXIT_UNVERIFIED
        else:
            while True:
                msg = inbox.get()
                if isinstance(msg, Stop):
                    break
                if isinstance(msg, RunTask) and not runtime.run(msg):
                    code = EXIT_WINDOW_LOST
                    break
    except ProfileOperationError as exc:
        runtime.log.error("profile operation failed", error=str(exc))
        code = EXIT_UNVERIFIED
    finally:
        runtime.close()
        with contextlib.suppress(Exception):
            outbox.close()
            outbox.join_thread()
    sys.exit(code)
