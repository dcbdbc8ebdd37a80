"""Turn validated `Settings` into the objects a run is made of: launch config, verification, profiles, pool.

Everything that can refuse to start (no browser, bad base profile) is done here, before any window starts,
and so is the repair of a base whose preferences a crashed run left overridden (`repair_base_preferences`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coupadl.batch.progress import state_dir
from coupadl.browser.discovery import find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.coupa.options import JobOptions
from coupadl.coupa.task import POResult, POTask
from coupadl.pool import PersistentWorkerPool, PoolConfig, PoolEvent, default_worker_specs
from coupadl.pool.sources import RemoteWindowSetup
from coupadl.profiles import (
    ProfileManager,
    VerificationConfig,
    get_base_profile_status,
    raise_for_status,
    resolve_profile_dir,
)
from coupadl.profiles.models import ProfileStatus, VerificationMethod
from coupadl.profiles.preferences import journal_path, repair_preferences
from coupadl.settings import ProfilePolicy, Settings

if TYPE_CHECKING:  # the job runs in the workers: the supervisor names it only (`COUPA_HANDLER`)
    from coupadl.coupa.job import process_po
    from coupadl.pool import TaskHandler

__all__ = [
    "COUPA_HANDLER",
    "build_launch",
    "build_pool",
    "build_profiles",
    "build_verification",
    "check_base_profile",
    "handler_options",
    "min_free_bytes",
    "repair_base_preferences",
]

COUPA_HANDLER = "coupadl.coupa.job:process_po"
if TYPE_CHECKING:
    _COUPA_JOB: TaskHandler[POTask, JobOptions, POResult] = process_po
    """What `COUPA_HANDLER` names: mypy checks it fits the pool's seam with the tasks `BatchRun` builds."""


def build_launch(settings: Settings) -> LaunchConfig:
    """Find the browser and driver (or raise `BrowserNotFoundError`) and say how windows start."""
    executables = find_executables(settings.browser, settings.browser_binary, settings.driver)
    return LaunchConfig(executables, headless=settings.headless, page_load_timeout=settings.page_load_timeout)


def build_verification(settings: Settings) -> VerificationConfig:
    """All three verification methods, on the configured authenticated page."""
    return VerificationConfig(
        enabled_methods=(
            VerificationMethod.CAPABILITY_CHECK,
            VerificationMethod.AUTH_CHECK,
            VerificationMethod.FILE_VERIFICATION,
        ),
        auth_check_url=settings.auth_check_url,
        auth_check_timeout=settings.auth_check_timeout,
    )


def repair_base_preferences(settings: Settings) -> list[str]:
    """Put back the base's preferences a killed run left overridden for window A; returns the keys.

    Done first by every command that opens the base (`run`, `check`, `login`). A base a browser runs on now
    is left alone (the command refuses it as locked; the next start repairs it).
    """
    profile_dir = resolve_profile_dir(settings.profile)
    if not journal_path(profile_dir).is_file():
        return []
    if get_base_profile_status(profile_dir, settings.profile_name).status is not ProfileStatus.AVAILABLE:
        return []
    return repair_preferences(profile_dir)


def build_profiles(settings: Settings, verification: VerificationConfig) -> ProfileManager:
    """Check the base and snapshot it (ACTIVE manager). Raises `ProfileError` when the base is unusable."""
    repair_base_preferences(settings)
    manager = ProfileManager.from_settings(settings, verification_config=verification)
    manager.start()
    return manager


def check_base_profile(settings: Settings) -> None:
    """Raise the matching `ProfileError` when the base is missing, locked, corrupt or unreadable."""
    repair_base_preferences(settings)
    raise_for_status(get_base_profile_status(resolve_profile_dir(settings.profile), settings.profile_name))


def min_free_bytes(settings: Settings) -> int:
    """`min_free_space_mb` in bytes: below this much free on the `--out` disk the run stops (exit 4)."""
    return int(settings.min_free_space_mb * 1_000_000)


def handler_options(settings: Settings, out: Path) -> dict[str, Any]:
    """What the Coupa job needs in each worker (plain values, picklable)."""
    return {
        "base_url": settings.require_base_url(),
        "out_dir": str(out),
        "page_load_timeout": settings.page_load_timeout,
        "download_timeout": settings.download_timeout,
        "download_start_timeout": settings.download_start_timeout,
        "max_download_attempts": settings.max_task_attempts,
        "requisition_fallback": settings.requisition_fallback,
        "download_mode": settings.download_mode,
        "download_concurrency": settings.download_concurrency,
        "min_free_bytes": min_free_bytes(settings),
        "settle_quiet": settings.settle_quiet,
        "settle_timeout": settings.settle_timeout,
        "error_texts": [t for texts in settings.page_error_texts.values() for t in texts],
        "loading_texts": list(settings.loading_texts),
        "throttle_backoff": settings.throttle_backoff,
        "throttle_max_wait": settings.throttle_max_wait,
    }


def build_pool(
    settings: Settings,
    launch: LaunchConfig,
    verification: VerificationConfig,
    profiles: ProfileManager,
    out: Path,
    on_event: Callable[[PoolEvent[POResult]], None] | None,
    *,
    handler: str = COUPA_HANDLER,
    options: dict[str, Any] | None = None,
    log_echo: bool = False,
    worker_count: int | None = None,
    remote: RemoteWindowSetup | None = None,
) -> PersistentWorkerPool[POTask, POResult]:
    """A pool of `worker_count` (default `settings.workers`) windows: A on the base under base-first, the
    rest on clones; with `remote` (`--grid`), every window a session on the Grid."""
    state = state_dir(out)
    count = worker_count if worker_count is not None else settings.workers
    config = PoolConfig(
        worker_count=count,
        launch=launch,
        verification=verification,
        handler=handler,
        state_dir=state,
        handler_options=(
            options if options is not None else JobOptions.from_mapping(handler_options(settings, out))
        ),
        task_timeout=settings.task_timeout,
        max_task_attempts=settings.max_task_attempts,
        max_restarts=settings.max_restarts,
        memory_threshold=settings.memory_threshold,
        shutdown_timeout=settings.shutdown_timeout,
        throttle_slowdown_s=settings.throttle_slowdown,
        throttle_spacing_s=settings.throttle_spacing,
        remote=remote is not None,
    )
    specs = default_worker_specs(
        worker_count=count,
        base_profile=profiles.base_profile_path,
        profile_name=settings.profile_name,
        base_first=settings.profile_policy is ProfilePolicy.BASE_FIRST,
        launch=launch,
        verification=verification,
        handler=handler,
        handler_options=config.handler_options,
        state_dir=state,
        profile_setup=profiles.worker_setup(),
        log_echo=log_echo,
        remote=remote,
    )
    return PersistentWorkerPool(config, specs, on_event)
