"""`ProfileManager`: lifecycle, policies, clones (parallel, throttled, retried, checked), cleanup guards."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from profile_factory import tree_state

from coupadl.errors import CloneTimeoutError, ConfigError, ProfileLockedException, ProfileMissingException
from coupadl.profiles import copying
from coupadl.profiles.manager import ProfileConfig, ProfileManager
from coupadl.profiles.markers import COMPLETE_MARKER, OWNER_MARKER
from coupadl.profiles.models import (
    MethodResult,
    ProfileManagerState,
    ProfileState,
    ProfileType,
    VerificationConfig,
    VerificationMethod,
    VerificationStatus,
    WorkerProfile,
)
from coupadl.profiles.sweep import UnsafeRemovalError, remove_guarded
from coupadl.settings import ProfilePolicy

Factory = Callable[..., ProfileManager]


def test_lifecycle_and_base_untouched(manager_factory: Factory, base: Path, temp_root: Path) -> None:
    before = tree_state(base)
    manager = manager_factory()
    assert manager.state is ProfileManagerState.INITIALIZED
    with pytest.raises(RuntimeError, match="start"):
        manager.create_worker_profile(2)
    manager.start()
    with pytest.raises(ValueError, match="cannot go from active to active"):
        manager.start()
    profiles = manager.create_worker_profiles([1, 2, 3])
    for profile in profiles:
        manager.verify_profile(profile)
    manager.cleanup_profile(profiles[1])
    run_dir = manager.run_directory
    assert run_dir is not None and run_dir.is_dir()
    manager.shutdown()
    assert manager.state is ProfileManagerState.SHUTDOWN
    assert not run_dir.exists()
    assert all(p.state is ProfileState.DESTROYED for p in profiles)
    with pytest.raises(ValueError, match="shutdown"):
        manager.start()
    assert tree_state(base) == before  # bytes, mtimes and modes of every entry


def test_base_first(manager_factory: Factory, base: Path) -> None:
    manager = manager_factory()
    manager.start()
    a, b, c = manager.create_worker_profiles([1, 2, 3])
    assert (a.profile_type, a.profile_path, a.letter) == (ProfileType.BASE, base, "A")
    assert a.file_verification is not None and a.file_verification.status is VerificationStatus.SKIPPED
    assert b.profile_type is c.profile_type is ProfileType.CLONE
    assert b.profile_path != c.profile_path
    assert b.profile_path.parent == c.profile_path.parent == manager.run_directory
    assert b.profile_path.name == "w2" and c.profile_path.name == "w3"
    for clone in (b, c):
        assert clone.state is ProfileState.READY and clone.is_ready()
        assert (clone.profile_path.stat().st_mode & 0o777) == 0o700
        assert clone.checksums == dict(manager._require_snapshot().checksums)
        assert (
            clone.file_verification is not None
            and clone.file_verification.status is VerificationStatus.SUCCESS
        )
        assert (clone.profile_path / "Default" / "Network" / "Cookies").is_file()
        assert f"--user-data-dir={clone.profile_path}" in clone.get_selenium_options()
    with pytest.raises(ValueError, match="already has a profile"):
        manager.create_worker_profile(1)


def test_all_clones(manager_factory: Factory) -> None:
    manager = manager_factory(policy=ProfilePolicy.ALL_CLONES)
    manager.start()
    profiles = manager.create_worker_profiles([1, 2])
    assert [p.profile_type for p in profiles] == [ProfileType.CLONE, ProfileType.CLONE]


def test_only_one_base(manager_factory: Factory) -> None:
    manager = manager_factory()
    manager.start()
    a = manager.create_worker_profile(1)
    fresh = manager.reclone(a)  # the base window moves to a clone; the base stays as it is
    assert fresh.profile_type is ProfileType.CLONE and a.state is ProfileState.DESTROYED
    assert sum(p.profile_type is ProfileType.BASE for p in manager.profiles.values()) == 0


def test_start_refuses_a_locked_or_missing_base(
    manager_factory: Factory, base: Path, tmp_path: Path, live_lock: str, temp_root: Path
) -> None:
    (base / "SingletonLock").symlink_to(live_lock)
    with pytest.raises(ProfileLockedException):
        manager_factory().start()
    with pytest.raises(ProfileMissingException):
        manager_factory(base=tmp_path / "absent").start()
    assert list(temp_root.iterdir()) == []


def test_temp_root_must_not_overlap_base(base: Path) -> None:
    with pytest.raises(ConfigError, match="overlap"):
        ProfileManager(base, temp_directory=base / "tmp")
    with pytest.raises(ConfigError, match="overlap"):
        ProfileManager(base, temp_directory=base.parent)


def test_partial_clone_is_refused(manager_factory: Factory) -> None:
    manager = manager_factory()
    manager.start()
    clone = manager.create_worker_profile(2)
    (clone.profile_path / COMPLETE_MARKER).unlink()  # as if the copy had been interrupted
    assert not clone.is_ready()
    result = manager.verify_profile_files(clone)
    assert result.status is VerificationStatus.FAILED and "no completion marker" in result.detail


def test_interrupted_copy_is_retried_and_leaves_nothing(
    manager_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = copying._clone_file
    calls = {"n": 0}

    def flaky(src: Path, dst: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(copying, "_clone_file", flaky)
    manager = manager_factory(
        verification_config=VerificationConfig(
            enabled_methods=(VerificationMethod.FILE_VERIFICATION,),
            retry_config={"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.02},
        )
    )
    manager.start()
    clone = manager.create_worker_profile(2)
    assert clone.is_ready()
    run_dir = manager.run_directory
    assert run_dir is not None
    assert sorted(p.name for p in run_dir.iterdir() if p.is_dir()) == ["snap", clone.profile_path.name]


def test_clone_timeout_waiting_for_a_slot(manager_factory: Factory) -> None:
    slots = threading.BoundedSemaphore(1)
    manager = manager_factory(clone_timeout=0.2, clone_slots=slots)
    manager.start()
    slots.acquire()
    try:
        with pytest.raises(CloneTimeoutError, match="no clone slot"):
            manager.create_worker_profile(2)
    finally:
        slots.release()


class CountingSlots:
    """A semaphore that remembers how many holders it had at once."""

    def __init__(self, n: int) -> None:
        self._sem = threading.BoundedSemaphore(n)
        self._lock = threading.Lock()
        self.current = self.peak = 0

    def acquire(self, timeout: float | None = None) -> bool:
        ok = self._sem.acquire(timeout=timeout)
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        time.sleep(0.05)
        return ok

    def release(self) -> None:
        with self._lock:
            self.current -= 1
        self._sem.release()


def test_clones_are_throttled(manager_factory: Factory) -> None:
    slots = CountingSlots(2)
    manager = manager_factory(policy=ProfilePolicy.ALL_CLONES, clone_slots=slots)
    manager.start()
    profiles = manager.create_worker_profiles(range(1, 7))
    assert len({p.profile_path for p in profiles}) == 6
    assert slots.peak == 2


def test_file_verification_finds_changes(manager_factory: Factory) -> None:
    manager = manager_factory()
    manager.start()
    clone = manager.create_worker_profile(2)
    (clone.profile_path / "Default" / "Preferences").write_text("{}")
    (clone.profile_path / "Default" / "Login Data").unlink()
    result = manager.verify_profile_files(clone)
    assert result.status is VerificationStatus.FAILED
    assert (
        "different: Default/Preferences" in result.detail and "missing: Default/Login Data" in result.detail
    )
    assert result.duration_s >= 0


def test_verify_profile_combines_methods(manager_factory: Factory) -> None:
    config = VerificationConfig(auth_check_url="http://127.0.0.1:1/user/home")
    manager = manager_factory(verification_config=config)
    manager.start()
    clone = manager.create_worker_profile(2)
    pending = manager.verify_profile(clone)
    assert not pending.is_success() and clone.state is ProfileState.READY
    assert pending.method_results[VerificationMethod.AUTH_CHECK].status is VerificationStatus.PENDING
    ok = MethodResult(VerificationStatus.SUCCESS, 0.1, "ok")
    result = manager.verify_profile(
        clone, {VerificationMethod.CAPABILITY_CHECK: ok, VerificationMethod.AUTH_CHECK: ok}, retry_count=1
    )
    assert result.is_success() and clone.state is ProfileState.VERIFIED
    assert clone.get_verification_summary()["methods"]["file"]["status"] == "success"
    base = manager.create_worker_profile(1)
    base_result = manager.verify_profile(
        base, {VerificationMethod.CAPABILITY_CHECK: ok, VerificationMethod.AUTH_CHECK: ok}
    )
    assert base_result.is_success()
    assert (
        base_result.method_results[VerificationMethod.FILE_VERIFICATION].status is VerificationStatus.SKIPPED
    )


def test_cleanup_waits_for_the_browser(manager_factory: Factory) -> None:
    manager = manager_factory()
    manager.start()
    clone = manager.create_worker_profile(2)
    browser = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not manager.cleanup_profile(clone, browser_pids=[browser.pid], wait_timeout=0.2)
        assert clone.state is ProfileState.CLEANUP and clone.profile_path.is_dir()
    finally:
        browser.terminate()  # the process this test started, by its handle
        browser.wait()
    assert manager.cleanup_profile(clone, browser_pids=[browser.pid], wait_timeout=5)
    assert clone.state is ProfileState.DESTROYED and not clone.profile_path.exists()
    assert 2 not in manager.profiles


def test_cleanup_of_the_base_keeps_it(manager_factory: Factory, base: Path) -> None:
    before = tree_state(base)
    manager = manager_factory()
    manager.start()
    a = manager.create_worker_profile(1)
    assert manager.cleanup_profile(a)
    assert a.state is ProfileState.DESTROYED
    assert tree_state(base) == before


def test_cleanup_refuses_the_base_disguised_as_a_clone(manager_factory: Factory, base: Path) -> None:
    before = tree_state(base)
    manager = manager_factory()
    manager.start()
    fake = WorkerProfile(2, ProfileType.CLONE, base)
    with pytest.raises(UnsafeRemovalError):
        manager.cleanup_profile(fake)
    (base / OWNER_MARKER).write_text("{}")  # even with a marker planted in it
    with pytest.raises(UnsafeRemovalError):
        manager.cleanup_profile(WorkerProfile(2, ProfileType.CLONE, base))
    (base / OWNER_MARKER).unlink()
    os.utime(base, ns=(before["."][1], before["."][1]))  # undo this test's own plant
    assert tree_state(base) == before


def test_remove_guarded_refusals(
    manager_factory: Factory, base: Path, temp_root: Path, tmp_path: Path
) -> None:
    before = tree_state(base)
    manager = manager_factory()
    manager.start()
    run_dir = manager.run_directory
    assert run_dir is not None
    link = run_dir / "w9"
    link.symlink_to(base)
    unmarked = run_dir / "w8"
    unmarked.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / OWNER_MARKER).write_text("{}")
    for path, words in [
        (link, "symlink"),
        (unmarked, "no coupadl owner marker"),
        (outside, "not inside"),
        (temp_root, "not inside"),
        (base, "not inside"),
        (base / "Default", "not inside"),
    ]:
        with pytest.raises(UnsafeRemovalError, match=words):
            remove_guarded(path, temp_root=temp_root, protected=[base])
    # A base that lives inside the temp root (should never happen) is still protected.
    with pytest.raises(UnsafeRemovalError, match="base"):
        remove_guarded(run_dir, temp_root=temp_root, protected=[run_dir / "w2"])
    assert unmarked.is_dir() and outside.is_dir()
    assert tree_state(base) == before


def test_reclone_makes_a_new_folder(manager_factory: Factory) -> None:
    manager = manager_factory()
    manager.start()
    clone = manager.create_worker_profile(2)
    fresh = manager.reclone(clone)
    assert (clone.profile_path.name, fresh.profile_path.name) == ("w2", "w2.1")
    assert not clone.profile_path.exists() and clone.state is ProfileState.DESTROYED
    assert fresh.is_ready() and manager.profiles[2] is fresh


def _worker_reclones(setup: dict[str, Any], slots: Any, out: Any) -> None:
    manager = ProfileManager.attach_snapshot(clone_slots=slots, **setup)
    profile = manager.create_worker_profile(1)
    again = manager.reclone(profile)
    out.put(
        (
            str(profile.profile_path),
            str(again.profile_path),
            again.is_ready(),
            manager.verify_profile_files(again).status.value,
        )
    )
    manager.shutdown()


def test_a_worker_process_clones_from_the_snapshot(manager_factory: Factory) -> None:
    manager = manager_factory(policy=ProfilePolicy.ALL_CLONES)
    manager.start()
    setup = manager.worker_setup()
    assert pickle.loads(pickle.dumps(setup))["config"] == manager.config  # noqa: S301 - our own bytes
    ctx = multiprocessing.get_context("spawn")
    slots, out = ctx.BoundedSemaphore(1), ctx.Queue()
    proc = ctx.Process(target=_worker_reclones, args=(setup, slots, out))
    proc.start()
    first, second, ready, status = out.get(timeout=60)
    proc.join(30)
    assert proc.exitcode == 0
    assert ready and status == "success" and first != second
    assert not Path(first).exists() and not Path(second).exists()  # the worker cleaned up after itself
    assert manager.snapshot_path.is_dir()  # and left the run's snapshot alone


def test_attach_refuses_an_incomplete_snapshot(manager_factory: Factory) -> None:
    manager = manager_factory()
    manager.start()
    (manager.snapshot_path / COMPLETE_MARKER).unlink()
    from coupadl.errors import ProfileOperationError

    with pytest.raises(ProfileOperationError, match="not a complete snapshot"):
        ProfileManager.attach_snapshot(manager.config, manager.snapshot_path)


def test_config_validates() -> None:
    with pytest.raises(ConfigError):
        ProfileConfig(Path("/x/base"), temp_directory=Path("/t"), max_concurrent_clones=0)
    with pytest.raises(ConfigError):
        ProfileConfig(Path("/x/base"), temp_directory=Path("/t"), clone_timeout=0)


def test_worker_profile_transitions_are_enforced(tmp_path: Path) -> None:
    profile = WorkerProfile(2, ProfileType.CLONE, tmp_path)
    with pytest.raises(ValueError, match="creating to in_use"):
        profile.transition(ProfileState.IN_USE)
    profile.transition(ProfileState.READY)
    profile.transition(ProfileState.CLEANUP)
    profile.transition(ProfileState.DESTROYED)
    with pytest.raises(ValueError):
        profile.transition(ProfileState.READY)


def test_from_settings(base: Path, temp_root: Path) -> None:
    from coupadl.settings import Settings

    settings = Settings(
        profile=str(base),
        workers=5,
        profile_policy=ProfilePolicy.ALL_CLONES,
        base_url="https://acme.coupahost.com",
        clone_timeout=12,
    )
    manager = ProfileManager.from_settings(settings, temp_directory=temp_root)
    assert (manager.base_profile_path, manager.max_concurrent_clones, manager.clone_timeout) == (base, 5, 12)
    assert manager.config.policy is ProfilePolicy.ALL_CLONES
    assert manager.verification_config.auth_check_url == "https://acme.coupahost.com/user/home"
    offline = ProfileManager.from_settings(Settings(profile=str(base)), temp_directory=temp_root)
    assert VerificationMethod.AUTH_CHECK not in offline.verification_config.enabled_methods
