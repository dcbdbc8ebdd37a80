"""`ProfileManager` (seed 000): one base, one snapshot per run, one clone per window, nothing left behind.

Lifecycle: INITIALIZED → `start()` (sweep orphans, check the base, snapshot it) → ACTIVE → `shutdown()`
(remove every clone and the snapshot) → SHUTDOWN. Under `ProfilePolicy.BASE_FIRST` worker 1 runs on the base
itself; every other window (and every re-clone) gets a fresh copy of the snapshot, never of the base.

Worker processes re-clone for themselves: they build a manager with `ProfileManager.attach_snapshot(config,
path, clone_slots=...)` from the picklable `ProfileConfig` and the main manager's `snapshot_path`, passing
the pool's cross-process semaphore so at most `max_concurrent_clones` copies run machine-wide.
"""

from __future__ import annotations

import contextlib
import errno
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_fixed,
    wait_none,
    wait_random,
)
from tenacity.wait import wait_base

from coupadl.errors import (
    CloneTimeoutError,
    ConfigError,
    FileVerificationException,
    ProfileOperationError,
)
from coupadl.log import get_logger
from coupadl.profiles.checksums import compare_checksums
from coupadl.profiles.copying import check_free_space
from coupadl.profiles.locations import default_temp_root, ensure_private_dir, resolve_profile_dir
from coupadl.profiles.markers import FolderKind, is_complete, write_complete, write_owner
from coupadl.profiles.models import (
    MethodResult,
    ProfileManagerState,
    ProfileState,
    ProfileStatusReport,
    ProfileType,
    RetryConfig,
    VerificationConfig,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
    WorkerProfile,
    check_manager_transition,
    window_letter,
)
from coupadl.profiles.snapshot import Snapshot, byte_checksums, copy_clone, take_snapshot, translate_os_error
from coupadl.profiles.status import get_base_profile_status, raise_for_status
from coupadl.profiles.sweep import SweepReport, remove_guarded, sweep_orphans, wait_for_exit
from coupadl.settings import ProfilePolicy, Settings

__all__ = ["CloneSlots", "ProfileConfig", "ProfileManager"]

log = get_logger(__name__)

SNAPSHOT_DIR_NAME = "snap"


class CloneSlots(Protocol):
    """A semaphore-like object limiting concurrent clones: `threading.BoundedSemaphore`,
    `multiprocessing.BoundedSemaphore` (shared by worker processes), or `filelock.FileLock`."""

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        """Take a slot; `timeout=` seconds at most."""

    def release(self) -> Any:
        """Give the slot back."""


def _default_verification() -> VerificationConfig:
    # Browser checks need a URL and a window; the defaults check files only. The pool passes the real one.
    return VerificationConfig(enabled_methods=(VerificationMethod.FILE_VERIFICATION,))


@dataclass(frozen=True)
class ProfileConfig:
    """Everything a `ProfileManager` needs, picklable so a worker process can rebuild one."""

    base_profile_path: Path
    profile_name: str = "Default"
    temp_directory: Path = field(default_factory=default_temp_root)
    max_concurrent_clones: int = 1
    clone_timeout: float = 60.0
    verification_config: VerificationConfig = field(default_factory=_default_verification)
    policy: ProfilePolicy = ProfilePolicy.BASE_FIRST
    retry_config: RetryConfig | None = None  # clone retries; the verification retry policy when None

    def __post_init__(self) -> None:
        if self.max_concurrent_clones < 1:
            raise ConfigError(f"max_concurrent_clones must be at least 1, got {self.max_concurrent_clones}")
        if self.clone_timeout <= 0:
            raise ConfigError(f"clone_timeout must be positive, got {self.clone_timeout}")
        base = Path(self.base_profile_path).absolute()
        temp = Path(self.temp_directory).absolute()
        object.__setattr__(self, "base_profile_path", base)
        object.__setattr__(self, "temp_directory", temp)
        rb, rt = base.resolve(), temp.resolve()
        if rb == rt or rb.is_relative_to(rt) or rt.is_relative_to(rb):
            raise ConfigError(f"the temp folder {temp} and the base profile {base} must not overlap")

    @property
    def clone_retry(self) -> RetryConfig:
        """Retry policy of clone copies."""
        return self.retry_config or self.verification_config.retry_config


def _tenacity_wait(config: RetryConfig) -> wait_base:
    wait: wait_base = (
        wait_exponential(multiplier=config.base_delay, max=config.max_delay)
        if config.exponential_backoff
        else wait_fixed(config.base_delay)
    )
    return wait + wait_random(0, config.base_delay) if config.jitter else wait + wait_none()


def _transient(exc: BaseException) -> bool:
    """Worth another clone attempt: file-system hiccups and a clone that came out different."""
    if isinstance(exc, FileVerificationException):
        return True
    return isinstance(exc, OSError) and exc.errno not in (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def _slot(slots: CloneSlots, timeout: float, worker_id: int) -> Iterator[None]:
    if not slots.acquire(timeout=max(0.0, timeout)):
        raise CloneTimeoutError(f"worker {worker_id}: no clone slot free within the clone timeout")
    try:
        yield
    finally:
        slots.release()


class ProfileManager:
    """Creates, checks and removes the profiles of a run's windows; the base is only ever read.

    Args:
        base_profile_path: The base browser user-data-dir.
        profile_name: Profile folder inside it.
        temp_directory: Root for run folders (short on purpose); `default_temp_root()` when None.
        max_concurrent_clones: Clones copied at once (the spec: the number of workers).
        clone_timeout: Seconds one clone may take, waiting for a slot and retries included.
        verification_config: Methods, timeouts and retry policy; file checks only when None.
        policy: `BASE_FIRST` (worker 1 on the base) or `ALL_CLONES`.
        retry_config: Clone retry policy; `verification_config.retry_config` when None.
        clone_slots: Semaphore-like clone throttle shared with other processes; a new
            `threading.BoundedSemaphore(max_concurrent_clones)` when None.
    """

    def __init__(
        self,
        base_profile_path: Path,
        *,
        profile_name: str = "Default",
        temp_directory: Path | None = None,
        max_concurrent_clones: int = 1,
        clone_timeout: float = 60.0,
        verification_config: VerificationConfig | None = None,
        policy: ProfilePolicy = ProfilePolicy.BASE_FIRST,
        retry_config: RetryConfig | None = None,
        clone_slots: CloneSlots | None = None,
    ) -> None:
        config = ProfileConfig(
            base_profile_path=base_profile_path,
            profile_name=profile_name,
            temp_directory=temp_directory if temp_directory is not None else default_temp_root(),
            max_concurrent_clones=max_concurrent_clones,
            clone_timeout=clone_timeout,
            verification_config=verification_config or _default_verification(),
            policy=policy,
            retry_config=retry_config,
        )
        self._init(config, clone_slots)

    def _init(self, config: ProfileConfig, clone_slots: CloneSlots | None) -> None:
        self._config = config
        self._slots: CloneSlots = clone_slots or threading.BoundedSemaphore(config.max_concurrent_clones)
        self._state = ProfileManagerState.INITIALIZED
        self._lock = threading.RLock()
        self._profiles: dict[int, WorkerProfile] = {}
        self._base_holder: int | None = None
        self._generations: dict[int, int] = {}
        self._snapshot: Snapshot | None = None
        self._run_dir: Path | None = None
        self._owns_run = False
        self.last_sweep: SweepReport | None = None

    # --- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: ProfileConfig, *, clone_slots: CloneSlots | None = None) -> ProfileManager:
        """A manager (INITIALIZED) from a `ProfileConfig`."""
        manager = cls.__new__(cls)
        manager._init(config, clone_slots)
        return manager

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        temp_directory: Path | None = None,
        verification_config: VerificationConfig | None = None,
        clone_slots: CloneSlots | None = None,
    ) -> ProfileManager:
        """A manager for a run: `--profile` resolved, clones throttled to the number of workers."""
        if verification_config is None:
            methods = [VerificationMethod.CAPABILITY_CHECK, VerificationMethod.FILE_VERIFICATION]
            url = ""
            if settings.base_url:
                methods.insert(1, VerificationMethod.AUTH_CHECK)
                url = settings.auth_check_url
            verification_config = VerificationConfig(
                enabled_methods=tuple(methods),
                auth_check_url=url,
                auth_check_timeout=settings.auth_check_timeout,
            )
        config = ProfileConfig(
            base_profile_path=resolve_profile_dir(settings.profile),
            profile_name=settings.profile_name,
            temp_directory=temp_directory or default_temp_root(),
            max_concurrent_clones=settings.workers,
            clone_timeout=settings.clone_timeout,
            verification_config=verification_config,
            policy=settings.profile_policy,
        )
        return cls.from_config(config, clone_slots=clone_slots)

    @classmethod
    def attach_snapshot(
        cls, config: ProfileConfig, snapshot_path: Path, *, clone_slots: CloneSlots | None = None
    ) -> ProfileManager:
        """An ACTIVE manager on another manager's snapshot, for a worker process to `reclone` itself.

        It never takes the base, and its `shutdown()` removes only the clones it made.

        Raises:
            ProfileOperationError: `snapshot_path` is not a complete snapshot.
        """
        manager = cls.from_config(config, clone_slots=clone_slots)
        manager._snapshot = Snapshot.load(snapshot_path)
        manager._run_dir = snapshot_path.parent
        manager._set_state(ProfileManagerState.ACTIVE)
        return manager

    # --- the seed's fields --------------------------------------------------------------------------------

    @property
    def config(self) -> ProfileConfig:
        """The picklable configuration (hand it to worker processes with `snapshot_path`)."""
        return self._config

    @property
    def base_profile_path(self) -> Path:
        """The base user-data-dir."""
        return self._config.base_profile_path

    @property
    def temp_directory(self) -> Path:
        """Root of run folders."""
        return self._config.temp_directory

    @property
    def max_concurrent_clones(self) -> int:
        """Clones copied at once (when the default, per-manager throttle is used)."""
        return self._config.max_concurrent_clones

    @property
    def clone_timeout(self) -> float:
        """Seconds one clone may take."""
        return self._config.clone_timeout

    @property
    def verification_config(self) -> VerificationConfig:
        """Verification methods, timeouts and retries."""
        return self._config.verification_config

    @property
    def state(self) -> ProfileManagerState:
        """INITIALIZED, ACTIVE or SHUTDOWN."""
        return self._state

    @property
    def snapshot_path(self) -> Path:
        """The run's snapshot folder (ACTIVE only)."""
        return self._require_snapshot().path

    def worker_setup(self) -> dict[str, Any]:
        """Keyword arguments for `attach_snapshot` in a worker process (picklable): config and snapshot."""
        return {"config": self._config, "snapshot_path": self.snapshot_path}

    @property
    def run_directory(self) -> Path | None:
        """This run's folder under `temp_directory` (None before `start`)."""
        return self._run_dir

    @property
    def profiles(self) -> dict[int, WorkerProfile]:
        """Live profiles by worker id (a copy)."""
        with self._lock:
            return dict(self._profiles)

    # --- lifecycle ----------------------------------------------------------------------------------------

    def _set_state(self, new: ProfileManagerState) -> None:
        check_manager_transition(self._state, new)
        self._state = new

    def _require_active(self) -> None:
        if self._state is not ProfileManagerState.ACTIVE:
            raise RuntimeError(f"ProfileManager is {self._state.value}, not active: call start() first")

    def _require_snapshot(self) -> Snapshot:
        self._require_active()
        assert self._snapshot is not None
        return self._snapshot

    def get_base_profile_status(self) -> ProfileStatusReport:
        """Whether the base can be used now, with a one-line explanation."""
        return get_base_profile_status(self.base_profile_path, self._config.profile_name)

    def sweep(self) -> SweepReport:
        """Remove folders of earlier runs whose owner died (see `sweep_orphans`)."""
        ensure_private_dir(self.temp_directory)
        report = sweep_orphans(self.temp_directory, protected=[self.base_profile_path])
        self.last_sweep = report
        return report

    def start(self) -> None:
        """Sweep orphans, check the base, snapshot it (checked, VM-003): INITIALIZED → ACTIVE.

        Call it before any window starts on the base: the snapshot needs a quiescent base.

        Raises:
            ProfileError: The base is missing, locked, corrupted or unreadable (nothing was started).
            InsufficientSpaceException: Not enough room for the snapshot.
            ProfileOperationError: The snapshot failed or differs from the base.
        """
        check_manager_transition(self._state, ProfileManagerState.ACTIVE)
        started = time.perf_counter()
        self.sweep()
        report = self.get_base_profile_status()
        raise_for_status(report)
        if report.stale_lock:
            log.info("base_stale_lock", path=str(self.base_profile_path), lock=report.stale_lock)
        run_dir = Path(tempfile.mkdtemp(prefix="r", dir=self.temp_directory))
        try:
            write_owner(run_dir, FolderKind.RUN)
            self._run_dir, self._owns_run = run_dir, True
            self._snapshot = take_snapshot(
                self.base_profile_path, self._config.profile_name, run_dir / SNAPSHOT_DIR_NAME
            )
        except BaseException:
            self._remove(run_dir)
            self._run_dir, self._owns_run, self._snapshot = None, False, None
            raise
        self._set_state(ProfileManagerState.ACTIVE)
        log.info(
            "snapshot_taken",
            path=str(self._snapshot.path),
            files=len(self._snapshot.plan.files),
            bytes=self._snapshot.total_bytes,
            duration_s=round(time.perf_counter() - started, 3),
        )

    def shutdown(self) -> None:
        """Remove every clone this manager made and, if it took it, the snapshot: → SHUTDOWN.

        Windows must have been quit first; a folder that cannot be removed is left to the next sweep.
        """
        if self._state is ProfileManagerState.SHUTDOWN:
            return
        for profile in list(self.profiles.values()):
            try:
                self.cleanup_profile(profile, wait_timeout=0.0)
            except (OSError, ProfileOperationError) as exc:
                log.warning("cleanup_failed", worker_id=profile.worker_id, error=str(exc))
        if self._owns_run and self._run_dir is not None:
            self._remove(self._run_dir)
        self._set_state(ProfileManagerState.SHUTDOWN)

    def __enter__(self) -> ProfileManager:
        if self._state is ProfileManagerState.INITIALIZED:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()

    def _remove(self, path: Path) -> bool:
        try:
            return remove_guarded(path, temp_root=self.temp_directory, protected=[self.base_profile_path])
        except (OSError, ProfileOperationError) as exc:
            log.warning("remove_failed", path=str(path), error=str(exc))
            return False

    # --- profiles -----------------------------------------------------------------------------------------

    def create_worker_profile(self, worker_id: int) -> WorkerProfile:
        """The READY profile of worker `worker_id`: the base (worker 1 under BASE_FIRST) or a fresh clone.

        Raises:
            ValueError: `worker_id` already has a live profile here.
            InsufficientSpaceException, CloneTimeoutError, ProfileOperationError: the clone failed.
        """
        self._require_active()
        with self._lock:
            if worker_id in self._profiles:
                raise ValueError(f"worker {worker_id} already has a profile: clean it up or reclone it")
            if self._would_be_base(worker_id):
                self._base_holder = worker_id
                profile = WorkerProfile(
                    worker_id, ProfileType.BASE, self.base_profile_path, self._config.profile_name
                )
                profile.file_verification = MethodResult(
                    VerificationStatus.SKIPPED, 0.0, "base profile: the snapshot was checked against it"
                )
                profile.transition(ProfileState.READY)
                self._profiles[worker_id] = profile
                log.info("profile_assigned", worker_id=worker_id, window=profile.letter, type="base")
                return profile
        profile = self._make_clone(worker_id)
        with self._lock:
            self._profiles[worker_id] = profile
        return profile

    def create_worker_profiles(self, worker_ids: Iterable[int]) -> list[WorkerProfile]:
        """Profiles for several workers, clones copied in parallel within the clone slots.

        On any failure, the profiles made by this call are cleaned up and the first error is raised.
        """
        ids = list(worker_ids)
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate worker ids in {ids}")
        self._require_snapshot()
        clones = [i for i in ids if not self._would_be_base(i)]
        if len(clones) > 1:
            check_free_space(
                self.temp_directory, len(clones) * self._require_snapshot().total_bytes, "clones"
            )
        with ThreadPoolExecutor(max_workers=max(1, len(ids)), thread_name_prefix="coupadl-clone") as pool:
            futures = [pool.submit(self.create_worker_profile, i) for i in ids]
        made = [f.result() for f in futures if f.exception() is None]
        errors = [exc for f in futures if (exc := f.exception()) is not None]
        if errors:
            for profile in made:
                self.cleanup_profile(profile, wait_timeout=0.0)
            raise errors[0]
        return made

    def _would_be_base(self, worker_id: int) -> bool:
        return (
            self._config.policy is ProfilePolicy.BASE_FIRST
            and worker_id == 1
            and self._owns_run
            and self._base_holder is None
        )

    def reclone(
        self, profile: WorkerProfile, *, browser_pids: Iterable[int] = (), wait_timeout: float = 10.0
    ) -> WorkerProfile:
        """A fresh clone for `profile`'s worker, after removing the old clone once `browser_pids` are gone.

        Works on profiles made by another manager of the same run (e.g. the main process's). A BASE profile
        is replaced by a clone; the base itself is left alone.
        """
        self._require_snapshot()
        if not self.cleanup_profile(profile, browser_pids=browser_pids, wait_timeout=wait_timeout):
            log.warning(
                "old_clone_kept",
                worker_id=profile.worker_id,
                path=str(profile.profile_path),
                reason="browser still running or removal failed; the next sweep removes it",
            )
        with self._lock:
            if self._profiles.get(profile.worker_id) is profile:
                del self._profiles[profile.worker_id]
        fresh = self._make_clone(profile.worker_id)
        with self._lock:
            self._profiles[profile.worker_id] = fresh
        return fresh

    def _claim_clone_dir(self, worker_id: int) -> Path:
        # Never the path of an earlier clone of this worker: its browser's helpers may still write there.
        run_dir = self._run_dir
        assert run_dir is not None
        with self._lock:
            generation = self._generations.get(worker_id, 0)
            while True:
                path = run_dir / (f"w{worker_id}" if generation == 0 else f"w{worker_id}.{generation}")
                generation += 1
                try:
                    path.mkdir(mode=0o700)
                except FileExistsError:
                    continue
                self._generations[worker_id] = generation
                return path

    def _make_clone(self, worker_id: int) -> WorkerProfile:
        snapshot = self._require_snapshot()
        letter = window_letter(worker_id)
        started = time.perf_counter()
        deadline = time.monotonic() + self.clone_timeout
        retry_config = self._config.clone_retry
        with _slot(self._slots, deadline - time.monotonic(), worker_id):
            waited = time.perf_counter() - started
            check_free_space(self.temp_directory, snapshot.total_bytes, f"the clone of window {letter}")
            attempts = 0
            try:
                for attempt in Retrying(
                    retry=retry_if_exception(_transient),
                    stop=stop_after_attempt(retry_config.max_attempts),
                    wait=_tenacity_wait(retry_config),
                    reraise=True,
                    sleep=lambda s: time.sleep(min(s, max(0.0, deadline - time.monotonic()))),
                ):
                    with attempt:
                        attempts += 1
                        if time.monotonic() > deadline:
                            raise CloneTimeoutError(
                                f"worker {worker_id}: cloning took over {self.clone_timeout}s"
                            )
                        path, sums = self._clone_once(snapshot, worker_id, deadline)
            except OSError as exc:
                where = f"cloning for window {letter} in {self.temp_directory}"
                raise translate_os_error(exc, where) from exc
            except FileVerificationException as exc:
                raise ProfileOperationError(str(exc)) from exc
        duration = time.perf_counter() - started
        profile = WorkerProfile(worker_id, ProfileType.CLONE, path, snapshot.profile_name, checksums=sums)
        profile.file_verification = MethodResult(
            VerificationStatus.SUCCESS, duration, f"{len(sums)} key files identical to the snapshot"
        )
        profile.transition(ProfileState.READY)
        log.info(
            "clone_created",
            worker_id=worker_id,
            window=letter,
            path=str(path),
            attempts=attempts,
            waited_s=round(waited, 3),
            duration_s=round(duration, 3),
            bytes=snapshot.total_bytes,
        )
        return profile

    def _clone_once(self, snapshot: Snapshot, worker_id: int, deadline: float) -> tuple[Path, dict[str, str]]:
        path = self._claim_clone_dir(worker_id)
        try:
            write_owner(path, FolderKind.CLONE)
            sums = copy_clone(snapshot, path, deadline)
            write_complete(path, {"worker_id": worker_id, "snapshot": str(snapshot.path), "checksums": sums})
        except BaseException as exc:
            log.warning("clone_attempt_failed", worker_id=worker_id, path=str(path), error=str(exc))
            self._remove(path)
            raise
        return path, sums

    # --- verification -------------------------------------------------------------------------------------

    def verify_profile_files(self, profile: WorkerProfile) -> MethodResult:
        """VM-003 now: the clone's key files against the snapshot's checksums; records `profile.checksums`.

        Meant right after cloning, before a browser starts on the clone (the browser rewrites `Preferences`
        at start). The base profile is SKIPPED: its snapshot was checked against it at `start()`.
        """
        started = time.perf_counter()
        if profile.profile_type is ProfileType.BASE:
            return MethodResult(
                VerificationStatus.SKIPPED, 0.0, "base profile: the snapshot was checked against it"
            )
        snapshot = self._require_snapshot()
        if not is_complete(profile.profile_path):
            return MethodResult(
                VerificationStatus.FAILED,
                time.perf_counter() - started,
                f"incomplete clone {profile.profile_path}: no completion marker",
            )
        try:
            sums = byte_checksums(profile.profile_path, list(snapshot.checksums))
        except OSError as exc:
            return MethodResult(
                VerificationStatus.FAILED, time.perf_counter() - started, f"unreadable: {exc}"
            )
        profile.checksums = sums
        problems = compare_checksums(snapshot.checksums, sums)
        duration = time.perf_counter() - started
        if problems:
            return MethodResult(VerificationStatus.FAILED, duration, "; ".join(problems))
        return MethodResult(
            VerificationStatus.SUCCESS, duration, f"{len(sums)} key files identical to the snapshot"
        )

    def verify_profile(
        self,
        profile: WorkerProfile,
        browser_results: Mapping[VerificationMethod, MethodResult] | None = None,
        *,
        retry_count: int = 0,
    ) -> VerificationResult:
        """Combine the enabled methods' results into a `VerificationResult` recorded on `profile`.

        The file method uses the check made right after cloning (or runs it now if there was none); the
        browser methods (capability, authentication) come from the browser layer in `browser_results`. An
        enabled method with no result is PENDING, so the verification cannot pass without it. A READY
        profile that passes becomes VERIFIED.
        """
        started = datetime.now(UTC)
        results: dict[VerificationMethod, MethodResult] = {}
        given = dict(browser_results or {})
        for method in self.verification_config.enabled_methods:
            if method is VerificationMethod.FILE_VERIFICATION:
                if not self.verification_config.is_enabled(method):
                    results[method] = MethodResult(VerificationStatus.SKIPPED, 0.0, "disabled")
                elif method in given:
                    results[method] = given[method]
                else:
                    results[method] = profile.file_verification or self.verify_profile_files(profile)
            elif method in given:
                results[method] = given[method]
            else:
                results[method] = MethodResult(VerificationStatus.PENDING, 0.0, "not run")
        result = VerificationResult(
            worker_id=profile.worker_id,
            method_results=results,
            started_at=started,
            completed_at=datetime.now(UTC),
            retry_count=retry_count,
        )
        if not result.is_success():
            failed = ", ".join(
                f"{m.value}: {results[m].detail or results[m].status.value}"
                for m in result.get_failed_methods()
            )
            result.error_details = failed
        profile.record_verification(result)
        if result.is_success() and profile.state is ProfileState.READY:
            profile.transition(ProfileState.VERIFIED)
        log.info(
            "profile_verified",
            worker_id=profile.worker_id,
            window=profile.letter,
            status=result.overall_status.value,
            error=result.error_details,
        )
        return result

    # --- cleanup ------------------------------------------------------------------------------------------

    def cleanup_profile(
        self, profile: WorkerProfile, *, browser_pids: Iterable[int] = (), wait_timeout: float = 10.0
    ) -> bool:
        """Retire `profile`: a clone's folder is removed once `browser_pids` have exited; the base is kept.

        Waits at most `wait_timeout` seconds for the browser processes and never kills them. Returns True when
        the profile is DESTROYED; False when a browser still runs or removal failed (state stays CLEANUP and
        the manager keeps tracking it, so `shutdown()` or the next sweep finishes the job).
        """
        if profile.state is ProfileState.DESTROYED:
            return True
        if profile.state is not ProfileState.CLEANUP:
            profile.transition(ProfileState.CLEANUP)
        if profile.profile_type is ProfileType.CLONE:
            alive = wait_for_exit(browser_pids, wait_timeout)
            if alive:
                log.warning("clone_kept_browser_alive", worker_id=profile.worker_id, pids=alive)
                return False
            try:
                remove_guarded(
                    profile.profile_path, temp_root=self.temp_directory, protected=[self.base_profile_path]
                )
            except OSError as exc:
                log.warning("clone_remove_failed", worker_id=profile.worker_id, error=str(exc))
                return False
        profile.transition(ProfileState.DESTROYED)
        with self._lock:
            if self._profiles.get(profile.worker_id) is profile:
                del self._profiles[profile.worker_id]
            if profile.profile_type is ProfileType.BASE and self._base_holder == profile.worker_id:
                self._base_holder = None
        log.info(
            "profile_destroyed",
            worker_id=profile.worker_id,
            window=profile.letter,
            type=profile.profile_type.value,
        )
        return True
