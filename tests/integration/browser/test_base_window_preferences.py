"""Window A on the base: it restores the base's last session and still works, and the preferences it needs
are on the base only while its browser runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coupadl.browser.launcher import LaunchConfig, start_driver
from coupadl.browser.window import VerifiedWindow
from coupadl.profiles import VerificationConfig
from coupadl.profiles.models import ProfileType, VerificationMethod, WorkerProfile
from coupadl.profiles.preferences import BASE_WINDOW_PREFERENCES, journal_path, preferences_path
from coupadl.sandbox import SandboxServer

pytestmark = pytest.mark.browser


def _lookup(path: Path, key: str) -> object:
    node: object = json.loads(path.read_text(encoding="utf-8"))
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "<absent>"
        node = node[part]
    return node


def test_window_a_restores_saved_tabs_works_and_puts_its_preferences_back(
    launch_config: LaunchConfig, signed_in_copy: Path, sandbox: SandboxServer, short_tmp: Path
) -> None:
    base = signed_in_copy
    # The operator's last session: two tabs open on the site.
    driver = start_driver(launch_config, base)
    try:
        driver.get(sandbox.po_url("15262985"))
        driver.switch_to.new_window("tab")
        driver.get(f"{sandbox.base_url}/user/home")
    finally:
        driver.quit()
    prefs = preferences_path(base, "Default")
    before = {key: _lookup(prefs, key) for key in BASE_WINDOW_PREFERENCES}
    assert all(value == "<absent>" for value in before.values()), before

    verification = VerificationConfig(
        enabled_methods=(VerificationMethod.CAPABILITY_CHECK, VerificationMethod.AUTH_CHECK),
        auth_check_url=f"{sandbox.base_url}/user/home",
        auth_check_timeout=15,
    )
    window = VerifiedWindow(
        WorkerProfile(1, ProfileType.BASE, base, "Default"),
        launch_config,
        verification,
        None,
        short_tmp / "dl",
    )
    try:
        assert window.open(), window.report.diagnosis
        session = window.session
        assert session is not None
        assert journal_path(base).is_file()
        during = {key: _lookup(prefs, key) for key in BASE_WINDOW_PREFERENCES}
        assert during == dict(BASE_WINDOW_PREFERENCES)
        restored_tabs = session.open_tab_count()
        assert restored_tabs >= 2, "the base's last session was not restored"

        with session.open_tab("t1", "15262984") as tab:
            landed = tab.get(sandbox.po_url("15262984"), timeout=20)
            assert landed == sandbox.po_url("15262984")
            assert not tab.has_signin_form()
        # Tabs the restore brought back are closed with the first task's tab; the main window stays.
        assert session.open_tab_count() == 1
        final, has_form = session.load_in_main_window(f"{sandbox.base_url}/user/home", 20)
        assert final == f"{sandbox.base_url}/user/home" and not has_form
    finally:
        window.close()

    assert not journal_path(base).exists()
    assert {key: _lookup(prefs, key) for key in BASE_WINDOW_PREFERENCES} == before
