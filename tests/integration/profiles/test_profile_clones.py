"""A signed-in profile cloned 3 times by `ProfileManager`: real Chromium on each clone is signed in.

The signed-in profile is the base here and is only read (ALL_CLONES: no browser ever runs on it); its bytes
and times are the same afterwards.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from coupadl.browser.launcher import LaunchConfig, capability_pids, reported_user_data_dir, start_driver
from coupadl.profiles import ProfileManager, ProfileType, VerificationStatus
from coupadl.sandbox import SandboxServer
from coupadl.settings import ProfilePolicy

pytestmark = pytest.mark.browser

PO = "15262984"


def _state(root: Path) -> dict[str, tuple[str, int]]:
    state: dict[str, tuple[str, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            state[str(path.relative_to(root))] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                path.stat().st_mtime_ns,
            )
    return state


def test_three_clones_of_a_signed_in_profile_are_each_signed_in(
    signed_in_profile: Path, launch_config: LaunchConfig, sandbox: SandboxServer, short_tmp: Path
) -> None:
    before = _state(signed_in_profile)
    manager = ProfileManager(
        signed_in_profile,
        temp_directory=short_tmp / "t",
        max_concurrent_clones=3,
        policy=ProfilePolicy.ALL_CLONES,
    )
    manager.start()
    try:
        clones = manager.create_worker_profiles([1, 2, 3])
        assert [c.profile_type for c in clones] == [ProfileType.CLONE] * 3
        assert len({c.profile_path for c in clones}) == 3
        for clone in clones:
            assert manager.verify_profile_files(clone).status is VerificationStatus.SUCCESS

        drivers = [start_driver(launch_config, c.profile_path, c.profile_name) for c in clones]
        try:
            for clone, driver in zip(clones, drivers, strict=True):
                assert reported_user_data_dir(driver.capabilities) == str(clone.profile_path)
                driver.get(sandbox.po_url(PO))
                assert driver.current_url == sandbox.po_url(PO), f"window {clone.letter} was sent to sign in"
            pids = [capability_pids(d)[0] for d in drivers]
        finally:
            for driver in drivers:
                driver.quit()

        for clone, pid in zip(clones, pids, strict=True):
            assert manager.cleanup_profile(clone, browser_pids=[pid] if pid else [], wait_timeout=10)
            assert not clone.profile_path.exists()
    finally:
        manager.shutdown()
    assert list((short_tmp / "t").iterdir()) == []
    assert _state(signed_in_profile) == before
