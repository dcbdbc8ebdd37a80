"""The operator's base profile: a session-only sign-in survives `login`, `run` and `check`, and no command
(not even a run killed with SIGKILL) leaves a preference of the base changed.

The base is made by a plain browser start (not by ChromeDriver, whose fresh profiles already hold
`safebrowsing.enabled: false`), so a window turning Safe Browsing off would show here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from e2e_helpers import cli_env
from tests.e2e.conftest import FAST_CONFIG, Workspace, wait_until

from coupadl.browser.discovery import Executables
from coupadl.profiles.checksums import find_cookie_db, open_sqlite_readonly
from coupadl.profiles.preferences import journal_path
from coupadl.sandbox import SESSION_COOKIE, SandboxServer, Scenario

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BROWSER_MAINTAINED_KEYS: dict[str, frozenset[str]] = {
    "Default/Preferences": frozenset(
        {
            "browser.window_placement",  # where the (visible) window was when it closed
            "google.services.signin_scoped_device_id",  # an id the browser makes anew
            "in_product_help",  # time of the last session, for feature tips
            "profile.content_settings.exceptions.media_engagement",  # per-site visit counts, kept per visit
            "profile.content_settings.exceptions.site_engagement",  # per-site engagement scores, ditto
            "profile.exit_type",  # how the last session ended (Normal, SessionEnded, Crashed)
            "profile.family_member_role",  # filled in by the browser's account check after a start
            "profile.last_engagement_time",  # time of the last use
            # Checksums of tracked preferences, recomputed on every write: they follow the values they hash,
            # which are compared themselves.
            "protection",
            "schedule_to_flush_to_disk",  # time of the last write
            "sessions",  # the browser's own log of starts and quits
        }
    ),
    "Local State": frozenset(
        {
            "profile.info_cache",  # the browser's cache of each profile's name, account and avatar
            "profile.last_used",  # the profile folder used last (`--profile-directory`)
            "session_id_generator_last_value",  # a counter bumped at every start
            "tab_stats",  # the most tabs and windows ever open, counted by the browser
            "user_experience_metrics",  # metrics bookkeeping: session ids, stability time stamps
            "variations_crash_streak",  # starts in a row that ended in a crash (after a kill)
        }
    ),
}
"""Dotted keys (a key covers everything below it) the browser itself rewrites on every start or quit, so they
differ after any browser start, coupadl or not; every other key of the base must come back unchanged."""

_LOGIN_CONFIG = FAST_CONFIG + 'auth_check_path = "/sandbox/autologin?next=/user/home"\n'
"""`coupadl login` opens the sandbox's sign-in link, as an operator's SSO would sign the window in."""


def _plain_browser_profile(executables: Executables, udd: Path) -> None:
    """Create `udd` by one plain browser start (no ChromeDriver), ended by SIGTERM."""
    args = [str(executables.binary), "--headless=new", "--no-first-run", f"--user-data-dir={udd}"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    proc = subprocess.Popen([*args, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        made = wait_until(
            lambda: (udd / "Local State").is_file() and (udd / "Default" / "Preferences").is_file(), 60
        )
        assert made, f"a plain browser start made no profile in {udd}"
    finally:
        browser = psutil.Process(proc.pid)
        children = browser.children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        psutil.wait_procs(children, timeout=10)
    # Headless Chromium ends a SIGTERMed session ("SessionEnded") but may leave its SingletonLock: stale (its
    # PID is gone), so the next browser and coupadl take it over.


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
        return flat
    return {prefix: data}


def _settings_of(udd: Path) -> dict[str, dict[str, Any]]:
    """Both JSON files as flat {dotted key: value}, without the browser-maintained keys."""
    found = {}
    for rel, maintained in BROWSER_MAINTAINED_KEYS.items():
        flat = _flatten(json.loads((udd / rel).read_text(encoding="utf-8")))
        found[rel] = {
            k: v for k, v in flat.items() if not any(k == m or k.startswith(m + ".") for m in maintained)
        }
    return found


def _assert_unchanged(before: dict[str, dict[str, Any]], udd: Path, after_what: str) -> None:
    after = _settings_of(udd)
    changed: dict[str, tuple[Any, Any]] = {}
    for rel in before:
        old, new = before[rel], after[rel]
        for key in old.keys() | new.keys():
            if old.get(key, "<absent>") != new.get(key, "<absent>"):
                changed[f"{rel}: {key}"] = (old.get(key, "<absent>"), new.get(key, "<absent>"))
    shown = json.dumps(dict(sorted(changed.items())), default=str)
    assert not changed, f"changed by {after_what} ({len(changed)} keys): {shown[:8000]}"
    assert not journal_path(udd).exists(), f"a preferences journal is left after {after_what}"


def _session_cookies(udd: Path, host: str) -> list[int]:
    """`is_persistent` of every sandbox session cookie row in the base's Cookies DB."""
    db = find_cookie_db(udd / "Default")
    assert db is not None, f"no Cookies database in {udd}"
    with open_sqlite_readonly(db) as conn:
        rows = conn.execute(
            "SELECT is_persistent FROM cookies WHERE name = ? AND host_key = ?", (SESSION_COOKIE, host)
        ).fetchall()
    return [int(r[0]) for r in rows]


@pytest.fixture
def plain_ws(ws: Workspace) -> Iterator[Workspace]:
    """`ws` on a base made by a plain browser start, signed in to nothing yet."""
    base = ws.root / "plain"
    _plain_browser_profile(ws.executables, base)
    yield dataclasses.replace(ws, profile=base)


def _login(
    ws: Workspace, server: SandboxServer, display: str, *, sign_in: bool = True, timeout_s: int = 60
) -> subprocess.CompletedProcess[str]:
    """`coupadl login` on the workspace's base, its (visible) window under Xvfb.

    `sign_in`: the window opens the sandbox's sign-in link; else the plain authenticated page, which only a
    window already signed in reaches (the login then ends at once; otherwise after `timeout_s`).
    """
    config = ws.root / "login.toml"
    config.write_text(_LOGIN_CONFIG if sign_in else FAST_CONFIG, encoding="utf-8")
    cmd = [
        sys.executable, "-m", "coupadl", "login", "--browser", "chromium",
        "--driver", str(ws.executables.driver), "--browser-binary", str(ws.executables.binary),
        "--profile", str(ws.profile), "--base-url", server.base_url, "--config", str(config),
        "--timeout", str(timeout_s),
    ]  # fmt: skip
    return subprocess.run(
        cmd, capture_output=True, text=True, env=cli_env({"DISPLAY": display}), timeout=120, check=False
    )


def _po_list(ws: Workspace, scenario: Scenario) -> Path:
    return ws.write_csv("pos.csv", [["PO_NUMBER"]] + [[f"PO{po.number}"] for po in scenario.pos])


def _session_only_site(n_pos: int, latency_s: float) -> Scenario:
    site = Scenario.bench(n_pos=n_pos, attachments_per_po=1, size=5_000, page_latency_s=latency_s)
    return dataclasses.replace(site, session_only_cookie=True)


def test_session_only_cookie_survives_login_run_and_check_and_settings_stay(
    plain_ws: Workspace, sandbox_factory: Any, xvfb_display: str
) -> None:
    ws = plain_ws
    scenario = _session_only_site(6, 0.0)
    server = sandbox_factory(scenario)
    host = "127.0.0.1"
    before = _settings_of(ws.profile)

    login = _login(ws, server, xvfb_display)
    assert login.returncode == 0, f"{login.stdout}\n{login.stderr}"
    assert _session_cookies(ws.profile, host) == [0], "login did not store a session-only cookie"
    _assert_unchanged(before, ws.profile, "login")

    run = ws.run(ws.args("run", str(_po_list(ws, scenario)), server=server, workers=3), timeout=180)
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    assert [r["STATUS"] for r in rows] == ["COMPLETED"] * len(scenario.pos)
    windows = {w["window"]: w for w in ws.summary()["workers"]}
    assert sorted(windows) == ["A", "B", "C"]
    assert windows["A"]["profile_type"] == "base"
    assert all(w["verification"]["status"] == "success" for w in windows.values()), windows
    assert _session_cookies(ws.profile, host) == [0], "the run lost the base's session cookie"
    _assert_unchanged(before, ws.profile, "run")

    check = ws.run(ws.args("check", server=server, workers=3), timeout=150)
    assert check.returncode == 0, f"{check.stdout[-3000:]}\n{check.stderr}"
    assert "3 of 3 windows verified" in check.stdout
    assert _session_cookies(ws.profile, host) == [0]
    _assert_unchanged(before, ws.profile, "check")

    # `login` again finds the window signed in by the stored session cookie: the sign-in page is never shown.
    mark = len(server.requests())
    again = _login(ws, server, xvfb_display, sign_in=False, timeout_s=20)
    assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
    assert not [r.path for r in server.requests()[mark:] if r.path.startswith(("/sessions", "/sso"))]
    assert _session_cookies(ws.profile, host) == [0]
    _assert_unchanged(before, ws.profile, "a second login")


def test_a_run_killed_with_sigkill_leaves_the_base_settings_after_the_next_start(
    plain_ws: Workspace, sandbox_factory: Any, xvfb_display: str
) -> None:
    ws = plain_ws
    scenario = _session_only_site(30, 0.5)
    server = sandbox_factory(scenario)
    before = _settings_of(ws.profile)
    assert _login(ws, server, xvfb_display).returncode == 0

    first = ws.start(ws.args("run", str(_po_list(ws, scenario)), server=server, workers=2))
    # Window A is up on the base (its override journaled) and working before the kill.
    assert wait_until(
        lambda: (
            (journal_path(ws.profile).is_file() and len(server.requests()) > 8) or first.poll() is not None
        ),
        120,
    )
    assert first.poll() is None, "the run ended before it could be killed"
    # The whole run dies at once (kill -9 of its process group, the OOM killer, a power cut): workers and
    # browsers first, so that no worker lives long enough to close its window cleanly.
    everything = psutil.Process(first.pid).children(recursive=True)
    for proc in everything:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    psutil.wait_procs(everything, timeout=15)
    assert journal_path(ws.profile).is_file(), "the kill left no journal: the test proves nothing"

    check = ws.run(ws.args("check", server=server, workers=2), timeout=150)

    assert check.returncode == 0, f"{check.stdout[-3000:]}\n{check.stderr}"
    _assert_unchanged(before, ws.profile, "a SIGKILLed run and the next start")
    assert _session_cookies(ws.profile, "127.0.0.1") == [0]
