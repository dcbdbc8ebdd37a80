"""Spec 003 acceptance scenarios with real headless Chromium windows against the sandbox.

Windows are opened with the same code `coupadl check` and `coupadl run` use (`VerifiedWindow`, and the pool
for N windows at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from coupadl.browser import launcher
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.processes import TrackedProcess
from coupadl.browser.session import BrowserSession
from coupadl.browser.verification import check_authentication
from coupadl.browser.window import RemediationAction, VerifiedWindow
from coupadl.pool import PersistentWorkerPool, PoolConfig, default_worker_specs
from coupadl.profiles import ProfileConfig, ProfileManager, VerificationConfig
from coupadl.profiles.models import ProfileType, RetryConfig, VerificationMethod, VerificationStatus
from coupadl.sandbox import SandboxServer
from coupadl.settings import ProfilePolicy
from support.waiting import wait_gone

pytestmark = pytest.mark.browser

ALL_METHODS = (
    VerificationMethod.CAPABILITY_CHECK,
    VerificationMethod.AUTH_CHECK,
    VerificationMethod.FILE_VERIFICATION,
)


def _verification(sandbox: SandboxServer) -> VerificationConfig:
    return VerificationConfig(
        enabled_methods=ALL_METHODS,
        auth_check_url=f"{sandbox.base_url}/user/home",
        auth_check_timeout=15,
        retry_config=RetryConfig(max_attempts=2, base_delay=0.1, max_delay=0.5),
    )


@pytest.fixture
def manager_for(short_tmp: Path, sandbox: SandboxServer) -> Iterator[object]:
    made: list[ProfileManager] = []

    def make(
        base: Path, policy: ProfilePolicy = ProfilePolicy.BASE_FIRST, workers: int = 3
    ) -> ProfileManager:
        manager = ProfileManager.from_config(
            ProfileConfig(
                base_profile_path=base,
                temp_directory=short_tmp / "t",
                max_concurrent_clones=workers,
                verification_config=_verification(sandbox),
                policy=policy,
            )
        )
        manager.start()
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown()


def _start_pool(
    manager: ProfileManager,
    launch: LaunchConfig,
    sandbox: SandboxServer,
    state: Path,
    policy: ProfilePolicy,
    workers: int = 3,
) -> PersistentWorkerPool:
    verification = _verification(sandbox)
    specs = default_worker_specs(
        worker_count=workers,
        base_profile=manager.base_profile_path,
        profile_name="Default",
        base_first=policy is ProfilePolicy.BASE_FIRST,
        launch=launch,
        verification=verification,
        handler="coupadl.coupa.job:process_po",
        handler_options={},
        state_dir=state,
        profile_setup=manager.worker_setup(),
        window_budget_s=60,
    )
    config = PoolConfig(
        worker_count=workers,
        launch=launch,
        verification=verification,
        handler="coupadl.coupa.job:process_po",
        state_dir=state,
        start_timeout=120,
    )
    return PersistentWorkerPool(config, specs)


@pytest.mark.parametrize("policy", [ProfilePolicy.BASE_FIRST, ProfilePolicy.ALL_CLONES])
def test_three_windows_each_on_its_profile_and_signed_in(
    policy: ProfilePolicy,
    signed_in_copy: Path,
    launch_config: LaunchConfig,
    sandbox: SandboxServer,
    manager_for: object,
    short_tmp: Path,
) -> None:
    manager = manager_for(signed_in_copy, policy)  # type: ignore[operator]
    pool = _start_pool(manager, launch_config, sandbox, short_tmp / "state", policy)
    try:
        reports = pool.start()
        browsers = [
            psutil.Process(p.pid) for w in pool.workers.values() for p in w.tracked if p.role == "browser"
        ]
    finally:
        pool.close()

    assert len(reports) == 3
    paths = [r.profile_path for r in reports.values()]
    types = [r.profile_type.value for r in reports.values()]
    if policy is ProfilePolicy.BASE_FIRST:
        assert types == ["base", "clone", "clone"]
        assert paths[0] == signed_in_copy  # window A on the base itself
    else:
        assert types == ["clone", "clone", "clone"]
    clone_paths = [p for p, t in zip(paths, types, strict=True) if t == "clone"]
    assert len(set(clone_paths)) == len(clone_paths)  # each clone its own folder
    assert all(
        manager.run_directory is not None and p.is_relative_to(manager.run_directory) for p in clone_paths
    )
    for report in reports.values():
        assert report.verification is not None and report.verified, report
        methods = report.verification.method_results
        assert methods[VerificationMethod.CAPABILITY_CHECK].status is VerificationStatus.SUCCESS
        assert str(report.profile_path) in methods[VerificationMethod.CAPABILITY_CHECK].detail
        assert methods[VerificationMethod.AUTH_CHECK].status is VerificationStatus.SUCCESS
        on_base = report.profile_type is ProfileType.BASE
        expected_file = VerificationStatus.SKIPPED if on_base else VerificationStatus.SUCCESS
        assert methods[VerificationMethod.FILE_VERIFICATION].status is expected_file

    # The windows are gone, and so are their clones.
    assert len(browsers) == 3
    wait_gone(browsers, "the 3 browsers to end")
    assert not any(p.exists() for p in clone_paths)


def test_a_spoiled_clone_is_recloned_while_the_other_windows_keep_running(
    signed_in_copy: Path,
    launch_config: LaunchConfig,
    sandbox: SandboxServer,
    manager_for: object,
    short_tmp: Path,
) -> None:
    manager = manager_for(signed_in_copy)  # type: ignore[operator]
    verification = _verification(sandbox)
    others: list[VerifiedWindow] = []
    try:
        for worker_id in (1, 3):
            window = VerifiedWindow(
                manager.create_worker_profile(worker_id),
                launch_config,
                verification,
                manager,
                short_tmp / f"dl{worker_id}",
            )
            assert window.open(), window.report.diagnosis
            others.append(window)
        pids_before = [w.session.browser_pid for w in others if w.session]

        spoiled = manager.create_worker_profile(2)
        cookie_db = next(
            p
            for p in (
                spoiled.profile_path / "Default" / "Network" / "Cookies",
                spoiled.profile_path / "Default" / "Cookies",
            )
            if p.exists()
        )
        cookie_db.unlink()
        window_b = VerifiedWindow(spoiled, launch_config, verification, manager, short_tmp / "dl2")
        try:
            assert window_b.open(), window_b.report.diagnosis
            steps = window_b.report.remediations
            assert steps[0].action is RemediationAction.RECLONE
            assert steps[0].succeeded
            assert window_b.profile.profile_path != spoiled.profile_path  # a fresh clone
            assert window_b.report.verification is not None and window_b.report.verification.is_success()
        finally:
            window_b.close()

        pids_after = [w.session.browser_pid for w in others if w.session]
        assert pids_after == pids_before  # nobody else was restarted
        assert all(TrackedProcess.of(pid) is not None for pid in pids_after if pid)
    finally:
        for window in others:
            window.close()


def test_a_signed_out_base_fails_every_window_naming_the_sign_in_redirect(
    launch_config: LaunchConfig,
    sandbox: SandboxServer,
    manager_for: object,
    short_tmp: Path,
) -> None:
    blank = short_tmp / "blank"
    (blank / "Default").mkdir(parents=True)
    (blank / "Local State").write_text("{}")
    (blank / "Default" / "Preferences").write_text("{}")
    manager = manager_for(blank, workers=2)  # type: ignore[operator]
    pool = _start_pool(
        manager, launch_config, sandbox, short_tmp / "state", ProfilePolicy.BASE_FIRST, workers=2
    )
    try:
        reports = pool.start()
    finally:
        pool.close()
    for report in reports.values():
        assert report.verification is not None and not report.verified
        auth = report.verification.method_results[VerificationMethod.AUTH_CHECK]
        assert auth.status is VerificationStatus.FAILED
        assert "sign-in" in auth.detail or "another host" in auth.detail
        assert report.remediations, "remediation was attempted"
        assert not any(step.succeeded for step in report.remediations)


def test_visible_mode_verifies_like_headless(
    signed_in_copy: Path,
    launch_config: LaunchConfig,
    sandbox: SandboxServer,
    manager_for: object,
    short_tmp: Path,
    xvfb_display: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISPLAY", xvfb_display)
    manager = manager_for(signed_in_copy, workers=2)  # type: ignore[operator]
    results = {}
    for headless in (True, False):
        launch = LaunchConfig(launch_config.executables, headless=headless)
        window = VerifiedWindow(
            manager.create_worker_profile(2),
            launch,
            _verification(sandbox),
            manager,
            short_tmp / f"dl-{headless}",
        )
        try:
            assert window.open(), window.report.diagnosis
            assert window.report.verification is not None
            results[headless] = {
                m.value: r.status.value for m, r in window.report.verification.method_results.items()
            }
        finally:
            window.close()
            manager.cleanup_profile(window.profile)
    assert (
        results[True]
        == results[False]
        == {"capability": "success", "authentication": "success", "file": "success"}
    )


def _browser_ui_pages(
    launch: LaunchConfig, profile: Path, downloads: Path, sandbox: SandboxServer
) -> list[str]:
    """The browser's own UI pages (CDP targets that are not web pages) once a window is signed in."""
    session = BrowserSession.start(launch, profile, "Default", downloads, restore_last_session=False)
    try:
        result = check_authentication(session, f"{sandbox.base_url}/user/home", 15)
        assert result.status.value == "success", result.detail
        targets = session.cdp("list the targets", "Target.getTargets")["targetInfos"]
        return [str(t["url"]) for t in targets if t["type"] not in ("page", "iframe", "worker")]
    finally:
        session.quit()


def test_windows_start_without_the_address_bars_webui_popup(
    signed_in_copy: Path,
    launch_config: LaunchConfig,
    sandbox: SandboxServer,
    short_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The pop-up, preloaded at every start in a renderer of its own, was ~0.5 CPU-s of the ~1.1 a window
    # cost until verified (BENCHMARKS.md "Start-up"); a Chromium that renames the features brings it back.
    features = ",WebUIOmniboxPopup,WebUIOmniboxAimPopup"
    original = launcher._base_arguments
    assert any(features in arg for arg in original(launch_config))
    monkeypatch.setattr(launcher, "_base_arguments", lambda c: [a.replace(features, "") for a in original(c)])
    with_features = _browser_ui_pages(launch_config, signed_in_copy, short_tmp / "dl1", sandbox)
    monkeypatch.undo()
    now = _browser_ui_pages(launch_config, signed_in_copy, short_tmp / "dl2", sandbox)

    popup = "chrome://omnibox-popup"
    assert any(url.startswith(popup) for url in with_features), with_features  # the check can fail
    assert not any(url.startswith(popup) for url in now), now
