"""A test pool on a private copy of a signed-in profile, recording every process it ever reported.

`PoolHarness` builds the `ProfileManager` (all clones, in a short temp root), the worker specs and the
`PersistentWorkerPool`, collects the pool's events, and after `close()` tells which tracked process is still
running and which folder is left behind.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.processes import tree_processes
from coupadl.browser.window import WindowReport
from coupadl.pool import PersistentWorkerPool, PoolConfig, PoolEvent, default_worker_specs
from coupadl.pool.events import TaskFinished, WorkerVerified
from coupadl.pool.pool import Task
from coupadl.profiles import ProfileManager
from coupadl.profiles.manager import ProfileConfig
from coupadl.profiles.models import RetryConfig, VerificationConfig, VerificationMethod
from coupadl.settings import ProfilePolicy

__all__ = ["PoolHarness", "fast_verification", "short_dir"]

HANDLER = "support.handlers:visit"

E = TypeVar("E")


def short_dir(prefix: str) -> Path:
    """A fresh folder directly under /tmp (Chromium's socket path must stay under 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def fast_verification(base_url: str) -> VerificationConfig:
    """All three methods, with short timeouts and one retry, so a signed-out window gives up quickly."""
    return VerificationConfig(
        enabled_methods=(
            VerificationMethod.CAPABILITY_CHECK,
            VerificationMethod.AUTH_CHECK,
            VerificationMethod.FILE_VERIFICATION,
        ),
        auth_check_url=f"{base_url}/user/home",
        auth_check_timeout=10.0,
        retry_config=RetryConfig(max_attempts=1, base_delay=0.1, max_delay=0.2, jitter=False),
    )


@dataclass
class PoolHarness:
    """One pool run. Use `start()`, `run()`, then always `close()` (idempotent)."""

    base_profile: Path
    launch: LaunchConfig
    base_url: str
    workers: int = 3
    config: dict[str, Any] = field(default_factory=dict)
    handler: str = HANDLER
    handler_options: object = field(default_factory=lambda: {"page_load_timeout": 20.0})
    events: list[PoolEvent[Any]] = field(default_factory=list)
    hooks: list[Any] = field(default_factory=list)  # callables(PoolEvent, harness) run on every event
    seen: dict[int, psutil.Process] = field(default_factory=dict)  # every process the pool ever reported
    browser_pids: dict[int, list[int]] = field(default_factory=dict)  # worker id -> browser PID per start
    worker_pids: dict[int, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = short_dir("cdl-p-")
        self.temp_root = self.root / "t"
        base = self.root / "u"
        shutil.copytree(
            self.base_profile,
            base,
            symlinks=True,
            ignore=shutil.ignore_patterns("Singleton*", "lockfile", "LOCK", "DevToolsActivePort"),
        )
        self.verification = fast_verification(self.base_url)
        self.manager = ProfileManager.from_config(
            ProfileConfig(
                base_profile_path=base,
                temp_directory=self.temp_root,
                max_concurrent_clones=self.workers,
                verification_config=self.verification,
                policy=ProfilePolicy.ALL_CLONES,
            )
        )
        self.pool: PersistentWorkerPool[Any, Any] | None = None
        self.run_dir: Path | None = None
        self._closed = False
        self._lock = threading.Lock()

    # --- building --------------------------------------------------------------------------------------

    def start(self, tasks: list[Task[Any]] | None = None) -> dict[int, WindowReport]:
        """Snapshot the base, spawn the workers and wait for their windows. Returns the pool's reports.

        `tasks`: queued before the workers start (each worker's first one reserved and preloaded while its
        window is verified), as `coupadl run` does; `run([])` then does them."""
        self.manager.start()
        self.run_dir = self.manager.run_directory
        state = self.root / "state"
        settings: dict[str, Any] = {
            "task_timeout": 60.0,
            "shutdown_timeout": 30.0,
            "start_timeout": 90.0,
            "memory_check_interval": 0.5,
            "window_budget_s": 60.0,
        }
        settings.update(self.config)
        config = PoolConfig(
            worker_count=self.workers,
            launch=self.launch,
            verification=self.verification,
            handler=self.handler,
            state_dir=state,
            handler_options=self.handler_options,
            **settings,
        )
        specs = default_worker_specs(
            worker_count=self.workers,
            base_profile=self.manager.base_profile_path,
            profile_name="Default",
            base_first=False,
            launch=self.launch,
            verification=self.verification,
            handler=self.handler,
            handler_options=self.handler_options,
            state_dir=state,
            profile_setup=self.manager.worker_setup(),
            window_budget_s=config.window_budget_s,
        )
        self.pool = PersistentWorkerPool(config, specs, self._on_event)
        return self.pool.start(tasks=tasks or ())

    def _on_event(self, event: PoolEvent[Any]) -> None:
        self.events.append(event)
        if isinstance(event, WorkerVerified):
            self._record(event.worker_id)
        for hook in list(self.hooks):
            hook(event, self)

    def _record(self, worker_id: int) -> None:
        assert self.pool is not None
        worker = self.pool.workers[worker_id]
        processes = worker.all_processes()
        for proc in tree_processes(processes):
            self.seen.setdefault(proc.pid, proc)
        browser = next((p.pid for p in worker.tracked if p.role == "browser"), None)
        assert browser is not None, "a ready worker reports its browser PID"
        self.browser_pids.setdefault(worker_id, []).append(browser)
        self.worker_pids.setdefault(worker_id, []).append(worker.process.pid)

    def current_browser(self, worker_id: int) -> int:
        """The browser PID of the worker's current window."""
        return self.browser_pids[worker_id][-1]

    def run(self, tasks: list[Task[Any]]) -> dict[str, Any]:
        """`pool.run(tasks)`; returns the outcomes."""
        assert self.pool is not None
        return dict(self.pool.run(tasks))

    # --- reading the events ----------------------------------------------------------------------------

    def kinds(self, kind: type[E]) -> list[E]:
        """Events of one kind (an event class of `coupadl.pool.events`), in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def finished_counts(self) -> Counter[str]:
        """How many times each task was reported finished (must be at most once)."""
        return Counter(e.outcome.task_id for e in self.kinds(TaskFinished))

    # --- ending ----------------------------------------------------------------------------------------

    def close(self) -> float:
        """Close the pool and the manager; returns the seconds `pool.close()` took."""
        if self._closed:
            return 0.0
        self._closed = True
        started = time.monotonic()
        try:
            if self.pool is not None:
                self.pool.close()
        finally:
            took = time.monotonic() - started
            self.manager.shutdown()
        return took

    def leftovers(self, grace: float = 5.0) -> list[str]:
        """Processes the pool reported that still run, after waiting up to `grace` seconds for them."""
        deadline = time.monotonic() + grace
        while True:
            running = [p for p in self.seen.values() if _running(p)]
            if not running or time.monotonic() > deadline:
                return [f"{p.pid} {_name(p)}" for p in running]
            time.sleep(0.2)

    def leftover_folders(self) -> list[str]:
        """Anything left in the manager's temp root (the run folder, clones)."""
        if not self.temp_root.exists():
            return []
        return sorted(str(p) for p in self.temp_root.rglob("*") if p.name != ".owner")[:20]

    def cleanup(self) -> None:
        """Last resort after a failed test: end what is left by PID and remove the folders."""
        self.close()
        for proc in self.seen.values():
            if _running(proc):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return "?"
