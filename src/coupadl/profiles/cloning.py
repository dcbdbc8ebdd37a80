"""A run's folder with its snapshot of the base, and the clones of that snapshot: one fresh folder per clone,
copied within the clone slots, retried on transient failures (`coupadl.retrying`), checked (VM-003) and marked
complete last.

A clone's folder is never the path of an earlier clone of the same worker: that browser's helpers may still
write there.
"""

from __future__ import annotations

import contextlib
import errno
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tenacity import Retrying, retry_if_exception, stop_after_attempt

from coupadl.errors import CloneTimeoutError, FileVerificationException, ProfileOperationError
from coupadl.log import get_logger
from coupadl.profiles.config import CloneSlots, ProfileConfig
from coupadl.profiles.copying import check_free_space
from coupadl.profiles.markers import FolderKind, write_complete, write_owner
from coupadl.profiles.models import (
    MethodResult,
    ProfileState,
    ProfileType,
    VerificationStatus,
    WorkerProfile,
    window_letter,
)
from coupadl.profiles.snapshot import Snapshot, copy_clone, take_snapshot, translate_os_error
from coupadl.profiles.sweep import remove_guarded, wait_for_exit

__all__ = ["SNAPSHOT_DIR_NAME", "Cloner", "open_run", "remove_clone", "remove_quietly"]

log = get_logger(__name__)

SNAPSHOT_DIR_NAME = "snap"


def remove_quietly(path: Path, config: ProfileConfig) -> bool:
    """Remove the coupadl temp folder `path` (guarded: inside the temp root, never the base); a failure is
    logged and left to the next sweep. Returns True when it was removed."""
    try:
        return remove_guarded(path, temp_root=config.temp_directory, protected=[config.base_profile_path])
    except (OSError, ProfileOperationError) as exc:
        log.warning("remove_failed", path=str(path), error=str(exc))
        return False


def remove_clone(
    profile: WorkerProfile, config: ProfileConfig, browser_pids: Iterable[int], wait_timeout: float
) -> bool:
    """Remove a clone's folder once `browser_pids` have exited (waiting `wait_timeout` seconds at most, never
    killing them). False when a browser still runs or removal failed: the folder stays for a later try.

    Raises:
        UnsafeRemovalError: The folder is not a coupadl clone folder (nothing was removed).
    """
    alive = wait_for_exit(browser_pids, wait_timeout)
    if alive:
        log.warning("clone_kept_browser_alive", worker_id=profile.worker_id, pids=alive)
        return False
    try:
        remove_guarded(
            profile.profile_path, temp_root=config.temp_directory, protected=[config.base_profile_path]
        )
    except OSError as exc:
        log.warning("clone_remove_failed", worker_id=profile.worker_id, error=str(exc))
        return False
    return True


def open_run(config: ProfileConfig) -> tuple[Path, Snapshot]:
    """A new run folder under the temp root (owner marker first) holding a checked snapshot of the base.

    Raises what `take_snapshot` raises; the run folder is removed then.
    """
    run_dir = Path(tempfile.mkdtemp(prefix="r", dir=config.temp_directory))
    try:
        write_owner(run_dir, FolderKind.RUN)
        snapshot = take_snapshot(config.base_profile_path, config.profile_name, run_dir / SNAPSHOT_DIR_NAME)
    except BaseException:
        remove_quietly(run_dir, config)
        raise
    return run_dir, snapshot


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


class Cloner:
    """Makes READY clone profiles of one run's snapshot (thread-safe).

    Args:
        config: The manager's configuration (temp root, clone timeout, retry policy).
        slots: The clone throttle, shared across processes when the pool passes one.
    """

    def __init__(self, config: ProfileConfig, slots: CloneSlots) -> None:
        self._config = config
        self._slots = slots
        self._lock = threading.Lock()
        self._generations: dict[int, int] = {}

    def claim_dir(self, run_dir: Path, worker_id: int) -> Path:
        """A new, empty, owner-only folder for a clone of `worker_id` in `run_dir`."""
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

    def make_clone(self, snapshot: Snapshot, run_dir: Path, worker_id: int) -> WorkerProfile:
        """Copy `snapshot` into a fresh folder of `run_dir` for `worker_id`: a READY, checked clone.

        Waits for a clone slot and retries transient failures, all within `clone_timeout`.

        Raises:
            CloneTimeoutError: No slot, or the copy took longer than `clone_timeout`.
            InsufficientSpaceException: Not enough room for the clone.
            ProfileOperationError: The copy failed or kept differing from the snapshot.
        """
        config = self._config
        letter = window_letter(worker_id)
        started = time.perf_counter()
        deadline = time.monotonic() + config.clone_timeout
        retry_config = config.clone_retry
        with _slot(self._slots, deadline - time.monotonic(), worker_id):
            waited = time.perf_counter() - started
            check_free_space(config.temp_directory, snapshot.total_bytes, f"the clone of window {letter}")
            attempts = 0
            try:
                for attempt in Retrying(
                    retry=retry_if_exception(_transient),
                    stop=stop_after_attempt(retry_config.max_attempts),
                    wait=retry_config.wait(),
                    reraise=True,
                    sleep=lambda s: time.sleep(min(s, max(0.0, deadline - time.monotonic()))),
                ):
                    with attempt:
                        attempts += 1
                        if time.monotonic() > deadline:
                            raise CloneTimeoutError(
                                f"worker {worker_id}: cloning took over {config.clone_timeout}s"
                            )
                        path, sums = self._clone_once(snapshot, run_dir, worker_id, deadline)
            except OSError as exc:
                where = f"cloning for window {letter} in {config.temp_directory}"
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

    def _clone_once(
        self, snapshot: Snapshot, run_dir: Path, worker_id: int, deadline: float
    ) -> tuple[Path, dict[str, str]]:
        path = self.claim_dir(run_dir, worker_id)
        try:
            write_owner(path, FolderKind.CLONE)
            sums = copy_clone(snapshot, path, deadline)
            write_complete(path, {"worker_id": worker_id, "snapshot": str(snapshot.path), "checksums": sums})
        except BaseException as exc:
            log.warning("clone_attempt_failed", worker_id=worker_id, path=str(path), error=str(exc))
            remove_quietly(path, self._config)
            raise
        return path, sums
