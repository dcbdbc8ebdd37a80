"""`ProfileManager` (seed 000): one base, one snapshot per run, one clone per window, nothing left behind.

Lifecycle: INITIALIZED → `start()` (sweep orphans, check the base, snapshot it) → ACTIVE → `shutdown()`
(remove every clone and the snapshot) → SHUTDOWN. Under `ProfilePolicy.BASE_FIRST` worker 1 runs on the base
itself; every other window (and every re-clone) gets a fresh copy of the snapshot, never of the base.

Worker processes re-clone for themselves: they build a manager with `ProfileManager.attach_snapshot(config,
path, clone_slots=...)` from the picklable `ProfileConfig` and the main manager's `snapshot_path`, passing
the pool's cross-process semaphore so at most `max_concurrent_clones` copies run machine-wide.

The manager is the facade: copying clones is `profiles.cloning`, combining verification results
`profiles.verifying`, its configuration `profiles.config`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from coupadl.choices import ProfilePolicy
from coupadl.errors import ProfileOperationError
from coupadl.lifecycle import IllegalTransition, StateMachine
from coupadl.log import get_logger
from coupadl.profiles.cloning import Cloner, open_run, remove_clone, remove_quietly
from coupadl.profiles.config import CloneSlots, ProfileConfig, default_verification
from coupadl.profiles.copying import check_free_space
from coupadl.profiles.locations import default_temp_root, ensure_private_dir
from coupadl.profiles.models import (
    MANAGER_LIFECYCLE,
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
)
from coupadl.profiles.snapshot import Snapshot
from coupadl.profiles.status import get_base_profile_status, raise_for_status
from coupadl.profiles.sweep import SweepReport, sweep_orphans
from coupadl.profiles.verifying import BASE_FILES_SKIPPED, assemble_verification, check_clone_files

if TYPE_CHECKING:  # a worker process gets its configuration, never the settings (pydantic)
    from coupadl.settings import Settings

__all__ = ["CloneSlots", "ProfileConfig", "ProfileManager"]

log = get_logger(__name__)


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
            verification_config=verification_config or default_verification(),
            policy=policy,
            retry_config=retry_config,
        )
        self._init(config, clone_slots)

    def _init(self, config: ProfileConfig, clone_slots: CloneSlots | None) -> None:
        self._config = config
        slots: CloneSlots = clone_slots or threading.BoundedSemaphore(config.max_concurrent_clones)
        self._cloner = Cloner(config, slots)
        self._state = StateMachine(MANAGER_LIFECYCLE, ProfileManagerState.INITIALIZED)
        self._lock = threading.RLock()
        self._profiles: dict[int, WorkerProfile] = {}
        self._base_holder: int | None = None
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
        config = ProfileConfig.from_settings(
            settings, temp_directory=temp_directory, verification_config=verification_config
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
        return self._state.state

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
        self._state.to(new)

    def _require_active(self) -> None:
        if self.state is not ProfileManagerState.ACTIVE:
            raise RuntimeError(f"ProfileManager is {self.state.value}, not active: call start() first")

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
        if self.state is not ProfileManagerState.INITIALIZED:
            # A misuse of the API, refused before any work (not a transition: nothing changes).
            raise IllegalTransition(
                f"ProfileManager cannot go from {self.state.value} to active: start() once"
            )
        started = time.perf_counter()
        self.sweep()
        report = self.get_base_profile_status()
        raise_for_status(report)
        if report.stale_lock:
            log.info("base_stale_lock", path=str(self.base_profile_path), lock=report.stale_lock)
        self._run_dir, self._snapshot = open_run(self._config)
        self._owns_run = True
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
        if self.state is ProfileManagerState.SHUTDOWN:
            return
        for profile in list(self.profiles.values()):
            try:
                self.cleanup_profile(profile, wait_timeout=0.0)
            except (OSError, ProfileOperationError) as exc:
                log.warning("cleanup_failed", worker_id=profile.worker_id, error=str(exc))
        if self._owns_run and self._run_dir is not None:
            remove_quietly(self._run_dir, self._config)
        self._set_state(ProfileManagerState.SHUTDOWN)

    def __enter__(self) -> ProfileManager:
        if self.state is ProfileManagerState.INITIALIZED:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()

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
                profile.file_verification = MethodResult(VerificationStatus.SKIPPED, 0.0, BASE_FILES_SKIPPED)
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

    def _make_clone(self, worker_id: int) -> WorkerProfile:
        run_dir = self._run_dir
        assert run_dir is not None
        return self._cloner.make_clone(self._require_snapshot(), run_dir, worker_id)

    # --- verification -------------------------------------------------------------------------------------

    def verify_profile_files(self, profile: WorkerProfile) -> MethodResult:
        """VM-003 now: the clone's key files against the snapshot's checksums; records `profile.checksums`.

        Meant right after cloning, before a browser starts on the clone (the browser rewrites `Preferences`
        at start). The base profile is SKIPPED: its snapshot was checked against it at `start()`.
        """
        if profile.profile_type is ProfileType.BASE:
            return MethodResult(VerificationStatus.SKIPPED, 0.0, BASE_FILES_SKIPPED)
        return check_clone_files(profile, self._require_snapshot())

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
        return assemble_verification(
            self.verification_config,
            profile,
            browser_results,
            check_files=lambda: self.verify_profile_files(profile),
            retry_count=retry_count,
        )

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
        if profile.profile_type is ProfileType.CLONE and not remove_clone(
            profile, self._config, browser_pids, wait_timeout
        ):
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
