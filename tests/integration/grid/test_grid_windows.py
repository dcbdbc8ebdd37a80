"""Remote windows on a real local Selenium Grid (a hub and two nodes, separate Java processes on loopback),
signed in to the sandbox with cookies carried from a real signed-in base, Chromium on the nodes.

One Grid serves the whole module (starting one costs seconds of two cores); every test leaves it as it found
it: all slots free, both nodes up.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import psutil
import pytest

from coupadl.browser.carried import CarriedCookie, read_carried_cookies
from coupadl.browser.cookies import cookie_header, window_cookies, window_user_agent
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.remote import (
    RemoteBrowserSession,
    RemoteConfig,
    carry_cookies,
    check_carried_cookies,
    open_remote_window,
    start_remote_session,
    verify_remote_window,
)
from coupadl.coupa.http_clients import shared_clients
from coupadl.coupa.http_files import FetchLimits, fetch_file
from coupadl.errors import CarriedCookiesError, GridNoFreeSlotError, GridUnreachableError, VerificationError
from coupadl.grid import GridClient, SessionRegistry, check_grid_url, clean_stale_sessions
from coupadl.log import close_logging, configure_logging
from coupadl.profiles.checksums import find_cookie_db
from coupadl.profiles.models import (
    VerificationConfig,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
)
from coupadl.profiles.snapshot import Snapshot, take_snapshot
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.sandbox.app import SESSION_COOKIE
from support.grid import LocalGrid, start_local_grid

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.grid, pytest.mark.timeout(300)]


@dataclasses.dataclass
class GridSite:
    """The module's Grid, sandbox (session-only sign-in cookie) and the carried cookies of its base."""

    grid: LocalGrid
    server: SandboxServer
    snapshot: Snapshot
    cookies: list[CarriedCookie]
    launch: LaunchConfig
    root: Path

    @property
    def auth_url(self) -> str:
        return f"{self.server.base_url}/user/home"

    def remote_config(self) -> RemoteConfig:
        return RemoteConfig(check_grid_url(self.grid.url), self.launch)

    def verification(self) -> VerificationConfig:
        return VerificationConfig(auth_check_url=self.auth_url, auth_check_timeout=30.0)


@pytest.fixture(scope="module")
def site(launch_config: LaunchConfig) -> Iterator[GridSite]:
    """A Grid with 2 nodes of 2 Chromium slots, a sandbox whose sign-in cookie is session-only, a base
    signed in to it, the run's snapshot and the cookies read from it."""
    root = Path(tempfile.mkdtemp(prefix="cdl-grid-", dir="/tmp"))
    started = time.monotonic()
    grid = start_local_grid(root / "grid", nodes=2, max_sessions=2)
    print(f"\nlocal Grid up in {time.monotonic() - started:.1f} s")
    scenario = dataclasses.replace(Scenario.small(), session_only_cookie=True)
    server = SandboxServer(scenario).start()
    try:
        base = root / "u"
        sign_in_profile(launch_config, base, server.base_url)
        snapshot = take_snapshot(base, "Default", root / "snap")
        cookies = read_carried_cookies(launch_config, snapshot, server.base_url, [], root)
        yield GridSite(grid, server, snapshot, cookies, launch_config, root)
    finally:
        server.stop()
        grid.stop()
        left = grid.processes()
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"Grid processes left running: {[p.pid for p in left]}"


@pytest.fixture
def client(site: GridSite) -> Iterator[GridClient]:
    with GridClient(site.grid.url) as grid_client:
        yield grid_client


@pytest.fixture
def sessions(site: GridSite, client: GridClient) -> Iterator[list[RemoteBrowserSession]]:
    """Remote sessions a test started; all quit after it, and the Grid is back to all slots free."""
    started: list[RemoteBrowserSession] = []
    yield started
    for session in started:
        session.quit()
    site.grid.wait_until("all 4 slots free", lambda: client.free_slots() == 4, timeout=60)


def _start(
    site: GridSite, client: GridClient, registry: SessionRegistry | None = None
) -> RemoteBrowserSession:
    return start_remote_session(site.remote_config(), site.root / "dl", client=client, registry=registry)


def _expired_sign_in(cookies: list[CarriedCookie]) -> list[CarriedCookie]:
    """The cookies with the sign-in cookie already expired: a browser drops it when it is set."""
    return [
        dataclasses.replace(c, expires=time.time() - 3600) if c.name == SESSION_COOKIE else c for c in cookies
    ]


# --- reading the base's cookies ----------------------------------------------------------------------------


def test_carried_cookies_come_from_a_removed_copy_and_hide_their_values(site: GridSite) -> None:
    host = "127.0.0.1"
    assert site.cookies, "no cookie read from the signed-in base"
    assert all(c.applies_to(host) for c in site.cookies), [c.domain for c in site.cookies]
    session_cookie = next(c for c in site.cookies if c.name == SESSION_COOKIE)
    # In the base it is a session-only cookie (Rails' default), carried all the same.
    database = find_cookie_db(site.root / "u" / "Default")
    assert database is not None
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        persistent = db.execute(
            "SELECT is_persistent FROM cookies WHERE name = ?", (SESSION_COOKIE,)
        ).fetchall()
    assert persistent == [(0,)]
    assert session_cookie.value and session_cookie.value not in repr(session_cookie)
    # The throw-away copy is gone and no browser runs on it.
    assert not [p for p in site.root.iterdir() if p.name.startswith("carry-")]
    on_copy = [
        p
        for p in psutil.process_iter(["cmdline"])
        if any(str(site.root / "carry-") in part for part in (p.info["cmdline"] or []))
    ]
    assert not on_copy


def test_a_signed_out_base_has_nothing_to_carry(site: GridSite) -> None:
    signed_out = site.root / "signed-out"
    shutil.copytree(site.root / "u", signed_out)
    try:
        database = find_cookie_db(signed_out / "Default")
        assert database is not None
        with closing(sqlite3.connect(database)) as db, db:
            db.execute("DELETE FROM cookies")
        snapshot = take_snapshot(signed_out, "Default", site.root / "signed-out-snap")
        with pytest.raises(
            CarriedCookiesError, match=r"no cookie for 127\.0\.0\.1: sign in with `coupadl login`"
        ):
            read_carried_cookies(site.launch, snapshot, site.server.base_url, [], site.root)
    finally:
        shutil.rmtree(signed_out, ignore_errors=True)
        shutil.rmtree(site.root / "signed-out-snap", ignore_errors=True)
    assert not [p for p in site.root.iterdir() if p.name.startswith("carry-")]


# --- windows on the Grid -----------------------------------------------------------------------------------


def test_four_remote_windows_spread_over_both_nodes_are_signed_in_and_the_grid_is_then_full(
    site: GridSite, client: GridClient, sessions: list[RemoteBrowserSession]
) -> None:
    registry = SessionRegistry(site.root / "state-four")
    assert client.claim_windows(32) == 4
    with ThreadPoolExecutor(4) as pool:
        sessions += pool.map(lambda _: _start(site, client, registry), range(4))

    def verify(session: RemoteBrowserSession) -> VerificationResult:
        outcome = carry_cookies(session, site.cookies, site.server.base_url)
        assert outcome.method == "cdp" and outcome.cookies_set == len(site.cookies)
        return verify_remote_window(session, site.cookies, site.verification(), 1)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(verify, sessions))
    for session, result in zip(sessions, results, strict=True):
        assert result.is_success(), result.error_details
        methods = result.method_results
        assert methods[VerificationMethod.AUTH_CHECK].status is VerificationStatus.SUCCESS
        capability = methods[VerificationMethod.CAPABILITY_CHECK]
        assert "fresh profile" in capability.detail and session.facts.node_uri in capability.detail
        assert methods[VerificationMethod.FILE_VERIFICATION].status is VerificationStatus.SKIPPED
        assert session.facts.browser_version.split(".")[0].isdigit()
        assert session.facts.downloads_enabled
        assert session.tracked_processes == []  # the node's PIDs are never ours to end
    # The node's Chromium got the local windows' no-network switches from the client's capabilities.
    assert sessions[0].facts.node_browser_pid is not None
    node_browser = psutil.Process(sessions[0].facts.node_browser_pid)  # the test nodes run on this machine
    assert {"--disable-background-networking", "--disable-component-update", "--headless=new"} <= set(
        node_browser.cmdline()
    )
    nodes = sorted(s.facts.node_uri for s in sessions)
    assert set(nodes) == {n.uri for n in site.grid.nodes}
    assert nodes.count(site.grid.nodes[0].uri) == 2
    # Every session is recorded for the next start; the Grid has nothing left to give.
    assert sorted(r.session_id for r in registry.records()) == sorted(s.facts.session_id for s in sessions)
    assert client.free_slots() == 0
    with pytest.raises(GridNoFreeSlotError, match="no free chrome slot"):
        client.claim_windows(1)
    for session in sessions:
        session.quit()
    assert registry.records() == []


def test_a_cookie_that_did_not_take_fails_verification_and_setting_them_again_fixes_it(
    site: GridSite, client: GridClient, sessions: list[RemoteBrowserSession]
) -> None:
    session = _start(site, client)
    sessions.append(session)
    spoiled = _expired_sign_in(site.cookies)
    carry_cookies(session, spoiled, site.server.base_url)
    result = verify_remote_window(session, site.cookies, site.verification(), 2)
    assert not result.is_success()
    capability = result.method_results[VerificationMethod.CAPABILITY_CHECK]
    assert capability.status is VerificationStatus.FAILED
    assert f"cookie(s) {SESSION_COOKIE} for 127.0.0.1 did not take" in capability.detail
    assert result.method_results[VerificationMethod.AUTH_CHECK].status is VerificationStatus.FAILED
    assert result.error_details and "redirected to" in result.error_details

    # Remediation: set them again (here through WebDriver's add_cookie, the fallback) and reload.
    outcome = carry_cookies(session, site.cookies, site.server.base_url, use_cdp=False)
    assert outcome.method == "webdriver" and outcome.cookies_set == len(site.cookies)
    fixed = verify_remote_window(session, site.cookies, site.verification(), 2, retry_count=1)
    assert fixed.is_success(), fixed.error_details


def test_a_window_whose_cookie_never_takes_is_remediated_then_refused_with_the_reason(
    site: GridSite, client: GridClient, sessions: list[RemoteBrowserSession]
) -> None:
    registry = SessionRegistry(site.root / "state-ladder")
    spoiled = _expired_sign_in(site.cookies)
    with pytest.raises(VerificationError, match="no remote window could be verified") as caught:
        open_remote_window(
            site.remote_config(), spoiled, site.server.base_url, site.verification(), 5, site.root / "dl",
            client=client, registry=registry,
        )  # fmt: skip
    message = str(caught.value)
    # Two sessions, each verified, given the cookies again and verified again: four failures, each explained.
    assert message.count(f"cookie(s) {SESSION_COOKIE} for 127.0.0.1 did not take") == 4
    assert message.count("redirected to") == 4 and "\n" not in message
    assert registry.records() == []  # every failed session was ended and forgotten


def test_a_different_cookie_value_is_detected(
    site: GridSite, client: GridClient, sessions: list[RemoteBrowserSession]
) -> None:
    session = _start(site, client)
    sessions.append(session)
    carry_cookies(session, site.cookies, site.server.base_url)
    other = [dataclasses.replace(c, value=c.value[::-1]) for c in site.cookies]
    result = check_carried_cookies(session, other, site.server.base_url)
    assert result.status is VerificationStatus.FAILED
    assert "hold another value" in result.detail


def test_files_over_http_from_this_machine_use_the_remote_windows_cookies(
    site: GridSite, client: GridClient, sessions: list[RemoteBrowserSession]
) -> None:
    session = _start(site, client)
    sessions.append(session)
    carry_cookies(session, site.cookies, site.server.base_url)
    served = next(f for f in site.server.site.catalog.all() if f.name == "quote.pdf")
    folder = site.root / "http-files"
    folder.mkdir()
    fetched = fetch_file(
        shared_clients(),
        f"{site.server.base_url}{served.path}",
        folder,
        page_url=f"{site.server.base_url}/order_headers/{served.owner_number}",
        cookie_header=lambda url: cookie_header(window_cookies(session, url)),
        user_agent=window_user_agent(session),
        limits=FetchLimits(),
    )
    assert (fetched.name, fetched.size, fetched.sha256) == (served.name, served.size, served.sha256)


def test_an_in_page_download_on_the_node_is_fetched_through_the_grid(
    site: GridSite, client: GridClient, sessions: list[RemoteBrowserSession]
) -> None:
    session = _start(site, client)
    sessions.append(session)
    carry_cookies(session, site.cookies, site.server.base_url)
    served = next(f for f in site.server.site.catalog.all() if f.name == "invoice.pdf")
    with session.open_tab("download") as tab:
        tab.get(site.auth_url)
        tab.run_js(
            "const a = document.createElement('a'); a.href = arguments[0];"
            " document.body.appendChild(a); a.click();",
            f"{site.server.base_url}{served.path}",
        )
        site.grid.wait_until(
            "the download finished on the node", lambda: served.name in session.downloaded_files(), timeout=30
        )
    dest = site.root / "fetched" / served.name
    dest.parent.mkdir()
    assert session.fetch_download(served.name, dest) == served.size
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == served.sha256
    with pytest.raises(FileExistsError):
        session.fetch_download(served.name, dest)  # a saved file is never overwritten
    session.clear_downloads()
    assert session.downloaded_files() == []


# --- the Grid's state ---------------------------------------------------------------------------------------


def test_unreachable_grid_and_a_server_that_is_no_grid_are_refused_in_one_line(site: GridSite) -> None:
    with (
        GridClient("http://127.0.0.1:9", timeout=2) as nobody,
        pytest.raises(GridUnreachableError, match="unreachable") as caught,
    ):
        nobody.claim_windows(4)
    assert "\n" not in str(caught.value)
    with (
        GridClient(site.server.base_url, timeout=5) as sandbox,
        pytest.raises(GridUnreachableError, match=r"not a Selenium Grid 4|answered HTTP"),
    ):
        sandbox.status()


_KILLED_RUN = """
import sys, time
from pathlib import Path
from coupadl.browser.discovery import find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.remote import RemoteConfig, start_remote_session
from coupadl.grid import SessionRegistry
from coupadl.log import configure_logging
from coupadl.settings import BrowserKind
configure_logging(None)
grid, state, dl = sys.argv[1:4]
config = RemoteConfig(grid, LaunchConfig(find_executables(BrowserKind.CHROMIUM)))
session = start_remote_session(config, Path(dl), registry=SessionRegistry(Path(state)))
print(session.facts.session_id, flush=True)
time.sleep(600)
"""


def test_sessions_of_a_killed_run_are_deleted_at_the_next_start(
    site: GridSite, client: GridClient, sessions: list[RemoteBrowserSession]
) -> None:
    state = site.root / "state-killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, site.grid.url, str(state), str(site.root / "dl-killed")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert run.stdout is not None
        orphan = run.stdout.readline().strip()
    finally:
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
        if run.stdout is not None:
            run.stdout.close()
    assert re.fullmatch(r"[0-9a-f]{32}", orphan), orphan
    assert orphan in client.status().session_ids()
    # A session of a run still going (this process) on the same output folder is left alone.
    registry = SessionRegistry(state)
    ours = _start(site, client, registry)
    sessions.append(ours)
    assert {r.session_id for r in registry.records()} == {orphan, ours.facts.session_id}

    assert clean_stale_sessions(registry, client) == [orphan]
    running = client.status().session_ids()
    assert orphan not in running and ours.facts.session_id in running
    assert [r.session_id for r in registry.records()] == [ours.facts.session_id]
    assert clean_stale_sessions(registry, client) == []
    assert client.delete_session(orphan) is False  # already gone: not an error


def test_a_killed_node_leaves_the_grid_and_the_other_node_keeps_its_session(
    site: GridSite, client: GridClient, sessions: list[RemoteBrowserSession]
) -> None:
    first, second = _start(site, client), _start(site, client)
    sessions += [first, second]
    if first.facts.node_uri == second.facts.node_uri:  # the Grid may fill one node first
        sessions.append(third := _start(site, client))
        second = third
    assert first.facts.node_uri != second.facts.node_uri
    victim = next(i for i, n in enumerate(site.grid.nodes) if n.uri == first.facts.node_uri)
    site.grid.kill_node(victim)
    site.grid.wait_until(
        "the killed node gone from the Grid",
        lambda: first.facts.node_uri not in site.grid.registered_node_uris(),
        timeout=60,
    )
    assert not first.is_alive()
    carry_cookies(second, site.cookies, site.server.base_url)
    assert verify_remote_window(second, site.cookies, site.verification(), 3).is_success()
    # Ending the lost session answers at once (the Grid no longer knows it) and touches no local process.
    quit_started = time.monotonic()
    first.quit()
    assert time.monotonic() - quit_started < 15
    sessions.remove(first)
    site.grid.restart_node(victim)


# --- secrets ------------------------------------------------------------------------------------------------


def test_no_cookie_value_reaches_any_log(
    site: GridSite,
    client: GridClient,
    sessions: list[RemoteBrowserSession],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    log_file = site.root / "run.log"
    configure_logging(log_file, worker="w1", level=logging.DEBUG, echo=True)
    try:
        cookies = read_carried_cookies(site.launch, site.snapshot, site.server.base_url, [], site.root)
        window = open_remote_window(
            site.remote_config(), cookies, site.server.base_url, site.verification(), 4, site.root / "dl",
            client=client, registry=SessionRegistry(site.root / "state-logs"),
        )  # fmt: skip
        session = window.session
        sessions.append(session)
        assert window.verification.is_success() and window.carried_by == "cdp" and window.steps == []
        carry_cookies(session, cookies, site.server.base_url, use_cdp=False)
    finally:
        close_logging()
    out, err = capfd.readouterr()
    texts = {
        "captured logging": caplog.text,
        "stdout/stderr": out + err,
        "run log": log_file.read_text(encoding="utf-8"),
        "registry": (site.root / "state-logs" / "grid-sessions.json").read_text(encoding="utf-8"),
        **{f"Grid {p.name}": p.read_text(errors="replace") for p in (site.grid.workdir).glob("*.log")},
    }
    assert "grid.cookies_read" in texts["run log"] and "grid.session_started" in texts["run log"]
    for cookie in cookies:
        for where, text in texts.items():
            assert cookie.value not in text, f"the value of cookie {cookie.name} is in the {where}"
    recorded = json.loads(texts["registry"])["sessions"]
    assert [r["session_id"] for r in recorded] == [session.facts.session_id]
