"""Windows on a Selenium Grid: a Remote WebDriver session, signed in with the base's carried cookies.

Long because it is one job, a remote window from session start to verified (the session, carrying the
cookies, their check, the remediation ladder), kept whole while the Grid wiring (issue 13) builds on it.

A remote window runs Chromium (or Edge) on a Grid node with the same switches as a local window, minus the
user-data-dir: the node's driver gives the browser a fresh temporary profile, and the sign-in arrives as
cookies (`coupadl.browser.carried`), set through CDP `Network.setCookies` (the Grid forwards chromedriver's
`goog/cdp/execute`), or with WebDriver's `add_cookie` on the tenant's domain where CDP is not forwarded.

`RemoteBrowserSession` is a `BrowserSession`: tabs, navigation, page scripts, CDP and VM-001
(`verification.check_authentication`) work on it unchanged. What differs: it tracks no local process (the
browser runs on the node; `quit` ends the session through the Grid), downloads are not routed to a local
folder (files come over HTTP with the window's cookies, or through Grid's managed downloads,
`se:downloadsEnabled`), and VM-002 is the carried-cookie check of `check_carried_cookies`.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import io
import re
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chromium.options import ChromiumOptions
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from selenium.webdriver.chromium.webdriver import ChromiumDriver
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.command import Command

from coupadl.browser.carried import CarriedCookie
from coupadl.browser.cookies import BrowserCookie, quiet_driver_logging, window_cookies
from coupadl.browser.launcher import LaunchConfig, _base_arguments, reported_user_data_dir
from coupadl.browser.session import BrowserSession
from coupadl.browser.translate import SeleniumError
from coupadl.browser.verification import check_authentication
from coupadl.choices import BrowserKind
from coupadl.errors import (
    BrowserStartError,
    CoupadlError,
    RetryableTaskError,
    VerificationError,
    WindowError,
)
from coupadl.grid.address import is_loopback_host
from coupadl.grid.client import GridClient
from coupadl.grid.registry import SessionRegistry
from coupadl.log import get_logger
from coupadl.profiles.models import (
    MethodResult,
    VerificationConfig,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
)

__all__ = [
    "CarryOutcome",
    "RemoteBrowserSession",
    "RemoteConfig",
    "RemoteSessionFacts",
    "RemoteWindow",
    "RemoteWindowNotVerified",
    "carry_cookies",
    "check_carried_cookies",
    "open_remote_window",
    "remote_options",
    "start_remote_session",
    "verify_remote_window",
]

# Switches that only make sense for a browser on this machine: the node's own setup decides these.
_LOCAL_ONLY = ("--no-sandbox",)

_REMOTE_PREFERENCES: dict[str, Any] = {
    "download.prompt_for_download": False,
    "profile.default_content_setting_values.automatic_downloads": 1,
    "plugins.always_open_pdf_externally": True,
    "credentials_enable_service": False,
    "profile.password_manager_enabled": False,
}


@dataclass(frozen=True)
class RemoteConfig:
    """How remote windows start. Picklable for workers.

    Attributes:
        grid_url: The Grid (as `coupadl.grid.check_grid_url` returned it).
        launch: The run's launch settings (browser kind, headless, page time-out, window size); the node's
            browser and driver paths come from the node's configuration, never from here.
        no_sandbox: Pass `--no-sandbox` (nodes commonly run as root or in containers, where Chromium's
            sandbox cannot start).
        downloads: Ask for Grid's managed downloads (`se:downloadsEnabled`).
        start_timeout: Seconds to wait for the Grid to create the session.
    """

    grid_url: str
    launch: LaunchConfig
    no_sandbox: bool = True
    downloads: bool = True
    start_timeout: float = 120.0


@dataclass(frozen=True)
class RemoteSessionFacts:
    """What a remote session is: recorded in the window's verification and report."""

    session_id: str
    node_uri: str
    browser_name: str
    browser_version: str
    user_data_dir: str  # on the node: the driver's fresh temporary profile
    downloads_enabled: bool
    node_browser_pid: int | None = None  # a PID on the node: for diagnostics only, never ended from here

    def describe(self) -> str:
        """One line for reports (the session id shortened: it controls the signed-in browser)."""
        return (
            f"session {self.session_id[:8]}… on {self.node_uri or 'an unknown node'}, "
            f"{self.browser_name} {self.browser_version}"
        )


def remote_options(config: RemoteConfig) -> ChromiumOptions:
    """Options for a remote window: the local windows' switches (no calls home, headless, window size),
    no user-data-dir and no binary (the node's configuration names its browser)."""
    launch = config.launch
    edge = launch.executables.browser is BrowserKind.EDGE
    options: ChromiumOptions = webdriver.EdgeOptions() if edge else webdriver.ChromeOptions()
    for arg in _base_arguments(launch):
        if arg not in _LOCAL_ONLY:
            options.add_argument(arg)
    if "--disable-dev-shm-usage" not in options.arguments:
        options.add_argument("--disable-dev-shm-usage")  # nodes in containers have a tiny /dev/shm
    if config.no_sandbox:
        options.add_argument("--no-sandbox")
    options.add_experimental_option("excludeSwitches", ["enable-automation"])
    # The fresh profile on the node gets what a clone's `Preferences` hold for downloads (profiles/
    # preferences.py): several attachments from one page without the "download multiple files?" question
    # (else the second in-page download never starts), PDFs downloaded rather than shown. The node adds its
    # managed-downloads folder to these prefs.
    options.add_experimental_option("prefs", dict(_REMOTE_PREFERENCES))
    options.page_load_strategy = "normal"
    if config.downloads:
        options.set_capability("se:downloadsEnabled", True)
    return options


class _RemoteChromiumDriver(webdriver.Remote):
    """Remote WebDriver with Chromium's CDP command (`goog/cdp/execute`, forwarded by the Grid)."""

    def execute_cdp_cmd(self, cmd: str, cmd_args: dict[str, Any]) -> Any:
        """Run CDP `cmd` in the browser on the node."""
        return self.execute("executeCdpCommand", {"cmd": cmd, "params": cmd_args})["value"]


class RemoteBrowserSession(BrowserSession):
    """A `BrowserSession` on a Grid node (see the module docstring for what differs from a local one).

    Args:
        driver: The Remote WebDriver.
        download_dir: The local folder this window's files are saved in (by HTTP; never routed on the node).
        facts: Session id, node and browser version.
        registry: Where the session is recorded (it is removed from there on `quit`).
    """

    def __init__(
        self,
        driver: _RemoteChromiumDriver,
        download_dir: Path,
        facts: RemoteSessionFacts,
        registry: SessionRegistry | None = None,
    ) -> None:
        self.facts = facts
        self.registry = registry
        self.page_timeout = 30.0  # for the session's own pages (the WebDriver fallback's landing page)
        super().__init__(cast(ChromiumDriver, driver), Path(facts.user_data_dir), download_dir)
        # `goog:processID` is a PID on the node: never tracked or ended from here.
        self.browser_process = None
        self.driver_process = None

    def set_download_dir(self, path: Path) -> None:
        """Remember the local folder for this window's files; nothing is routed on the node."""
        path.mkdir(parents=True, exist_ok=True)
        self.download_dir = path

    def reported_user_data_dir(self) -> str | None:
        """The node-side profile folder the driver reports (a fresh temporary one)."""
        return reported_user_data_dir(self._driver.capabilities)

    def add_cookies_webdriver(self, cookies: list[CarriedCookie], landing_url: str) -> int:
        """Set `cookies` with WebDriver's `add_cookie` after opening `landing_url` (on the tenant's host):
        only the cookies that host receives can be set this way. Returns how many were set."""
        host = urlsplit(landing_url).hostname or ""
        self.load_in_main_window(landing_url, self.page_timeout)
        count = 0
        for cookie in cookies:
            if cookie.applies_to(host):
                self._call(
                    f"set cookie {cookie.name}", partial(self._driver.add_cookie, cookie.webdriver_params())
                )
                count += 1
        return count

    def webdriver_cookies(self) -> list[BrowserCookie]:
        """The cookies WebDriver shows for the page open in the focused tab."""
        raw = self._call("read the cookies", self._driver.get_cookies)
        return [
            BrowserCookie(
                str(c["name"]),
                str(c.get("value") or ""),
                str(c.get("domain") or ""),
                str(c.get("path") or "/"),
            )
            for c in raw
            if c.get("name")
        ]

    # --- Grid's managed downloads (files a page download left on the node) ------------------------------

    def downloaded_files(self) -> list[str]:
        """Names of the files this session's in-page downloads left on the node (finished ones only)."""
        answer = self._call(
            "list the node's downloads", lambda: self._driver.execute(Command.GET_DOWNLOADABLE_FILES)
        )
        names = answer["value"].get("names") if isinstance(answer.get("value"), dict) else None
        return [str(n) for n in names or [] if not str(n).endswith(".crdownload")]

    def fetch_download(self, name: str, dest: Path) -> int:
        """Copy the node's download `name` to the new file `dest` (never overwritten: it must not exist).

        The Grid sends the file zipped in base64; only the member named `name` is written, so a crafted
        name cannot place anything outside `dest`.

        Returns:
            The bytes written.

        Raises:
            FileExistsError: `dest` exists.
            RetryableTaskError: The node has no such file, or its answer is not a zip holding it.
        """
        answer = self._call(
            f"fetch the node's download {name}",
            lambda: self._driver.execute(Command.DOWNLOAD_FILE, {"name": name}),
        )
        try:
            contents = base64.b64decode(answer["value"]["contents"], validate=True)
            with zipfile.ZipFile(io.BytesIO(contents)) as archive:
                data = archive.read(name)
        except (KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
            raise RetryableTaskError(f"fetch the node's download {name}: unusable answer ({exc})") from exc
        with dest.open("xb") as out:
            out.write(data)
        return len(data)

    def clear_downloads(self) -> None:
        """Delete this session's downloads on the node."""
        self._call(
            "delete the node's downloads", lambda: self._driver.execute(Command.DELETE_DOWNLOADABLE_FILES)
        )

    def quit(self, timeout: float = 10.0) -> None:
        """End the session on the Grid and forget it in the registry."""
        super().quit(timeout)
        if self.registry is not None:
            with contextlib.suppress(OSError, CoupadlError):
                self.registry.remove(self.facts.session_id)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


def start_remote_session(
    config: RemoteConfig,
    download_dir: Path,
    *,
    client: GridClient | None = None,
    registry: SessionRegistry | None = None,
) -> RemoteBrowserSession:
    """Start a session on the Grid, record it in `registry` at once, and wrap it.

    Args:
        config: The Grid and the run's launch settings.
        download_dir: Local folder for this window's files.
        client: Used to find the node the session landed on (default: a client of its own, closed after).
        registry: Records the session so a killed run's session is deleted at the next start.

    Raises:
        BrowserStartError: The Grid did not create the session (one line, with the Grid's reason).
    """
    log = get_logger(__name__)
    edge = config.launch.executables.browser is BrowserKind.EDGE
    loopback = is_loopback_host(urlsplit(config.grid_url).hostname or "")
    connection = ChromiumRemoteConnection(
        config.grid_url,
        vendor_prefix="ms" if edge else "goog",
        browser_name="MicrosoftEdge" if edge else "chrome",
        ignore_proxy=loopback,
        client_config=ClientConfig(
            remote_server_addr=config.grid_url, keep_alive=True, timeout=int(config.start_timeout)
        ),
    )
    started = time.monotonic()
    try:
        driver = _RemoteChromiumDriver(command_executor=connection, options=remote_options(config))
    except (SeleniumError, OSError, ConnectionError) as exc:
        first = next(
            (line for line in str(getattr(exc, "msg", None) or exc).splitlines() if line.strip()), ""
        )
        raise BrowserStartError(
            f"the Grid {config.grid_url} did not start a browser: {first.strip()}"
        ) from exc
    session_id = str(driver.session_id)
    own_client = client is None
    grid = client if client is not None else GridClient(config.grid_url)
    try:
        if registry is not None:  # first, so that nothing can leave the session unrecorded
            registry.add(session_id, config.grid_url)
        node_uri = ""
        with contextlib.suppress(CoupadlError):
            node_uri = grid.session_node(session_id) or ""
        if registry is not None and node_uri:
            registry.add(session_id, config.grid_url, node_uri)
        caps = driver.capabilities
        facts = RemoteSessionFacts(
            session_id=session_id,
            node_uri=node_uri,
            browser_name=str(caps.get("browserName") or ""),
            browser_version=str(caps.get("browserVersion") or ""),
            user_data_dir=reported_user_data_dir(caps) or "",
            downloads_enabled=bool(caps.get("se:downloadsEnabled")),
            node_browser_pid=_int_or_none(caps.get("goog:processID") or caps.get("ms:processID")),
        )
        session = RemoteBrowserSession(driver, download_dir, facts, registry)
        session.page_timeout = config.launch.page_load_timeout
        session.set_page_timeout(config.launch.page_load_timeout)
    except BaseException:
        with contextlib.suppress(SeleniumError, OSError, ConnectionError):
            driver.quit()
        if registry is not None:
            with contextlib.suppress(OSError):
                registry.remove(session_id)
        raise
    finally:
        if own_client:
            grid.close()
    log.info(
        "grid.session_started",
        node=facts.node_uri,
        browser=f"{facts.browser_name} {facts.browser_version}",
        seconds=round(time.monotonic() - started, 2),
    )
    return session


@dataclass(frozen=True)
class CarryOutcome:
    """How the carried cookies were set: `cdp` (all of them) or `webdriver` (the tenant host's only)."""

    method: str
    cookies_set: int
    left_out: tuple[str, ...] = ()  # names that could not be set (other hosts, WebDriver fallback)


def carry_cookies(
    session: RemoteBrowserSession, cookies: list[CarriedCookie], tenant_url: str, *, use_cdp: bool = True
) -> CarryOutcome:
    """Set the carried cookies in the remote browser.

    CDP `Network.setCookies` first (every kept host at once); if the Grid or browser refuses it (or
    `use_cdp` is False), WebDriver's `add_cookie` on the tenant's host (other hosts' cookies are left out).

    Raises:
        BrowserCrashedError: The session is gone.
        RetryableTaskError: The browser refused the cookies.
    """
    quiet_driver_logging()
    scheme = urlsplit(tenant_url).scheme or "https"
    if use_cdp:
        try:
            session.cdp(
                "carry the sign-in cookies",
                "Network.setCookies",
                {"cookies": [c.cdp_params(scheme) for c in cookies]},
            )
            return CarryOutcome("cdp", len(cookies))
        except RetryableTaskError as exc:
            get_logger(__name__).warning("grid.cdp_cookies_refused", error=str(exc))
    parts = urlsplit(tenant_url)
    landing = f"{parts.scheme}://{parts.netloc}/robots.txt"
    count = session.add_cookies_webdriver(cookies, landing)
    host = parts.hostname or ""
    left_out = tuple(sorted({c.name for c in cookies if not c.applies_to(host)}))
    return CarryOutcome("webdriver", count, left_out)


def _is_fresh_profile(user_data_dir: str) -> bool:
    # The driver names the temporary profile it makes when given none `…scoped_dir…` (chromedriver and
    # msedgedriver alike); a folder the client asked for would be named by the client.
    return "scoped_dir" in re.split(r"[/\\]", user_data_dir.rstrip("/\\"))[-1]


def check_carried_cookies(
    session: RemoteBrowserSession, cookies: list[CarriedCookie], tenant_url: str
) -> MethodResult:
    """The remote VM-002: the browser holds every carried cookie for the tenant (read back, same value), it
    runs a fresh temporary profile, and the session's id, node and browser version are recorded."""
    started = time.monotonic()
    host = urlsplit(tenant_url).hostname or ""
    expected = [c for c in cookies if c.applies_to(host)]
    facts = session.facts
    problems: list[str] = []
    if not expected:
        problems.append(f"no carried cookie for {host}")
    try:
        held = window_cookies(session, tenant_url)
    except RetryableTaskError:  # CDP not forwarded: read them with WebDriver on the tenant's page
        held = session.webdriver_cookies()
    held_values: dict[tuple[str, str], list[str]] = {}
    for c in held:
        held_values.setdefault((c.name, c.path), []).append(c.value)
    missing = [c.name for c in expected if (c.name, c.path) not in held_values]
    differing = [
        c.name
        for c in expected
        if (c.name, c.path) in held_values
        and not any(hmac.compare_digest(v, c.value) for v in held_values[(c.name, c.path)])
    ]
    if missing:
        problems.append(f"cookie(s) {', '.join(sorted(set(missing)))} for {host} did not take")
    if differing:
        problems.append(f"cookie(s) {', '.join(sorted(set(differing)))} for {host} hold another value")
    if not _is_fresh_profile(facts.user_data_dir):
        problems.append(f"not a fresh temporary profile ({facts.user_data_dir or 'none reported'})")
    where = facts.describe()
    if problems:
        return MethodResult(
            VerificationStatus.FAILED, time.monotonic() - started, f"{'; '.join(problems)} ({where})"
        )
    return MethodResult(
        VerificationStatus.SUCCESS,
        time.monotonic() - started,
        f"holds the {len(expected)} carried cookie(s) for {host}; "
        f"fresh profile {facts.user_data_dir}; {where}",
    )


def verify_remote_window(
    session: RemoteBrowserSession,
    cookies: list[CarriedCookie],
    config: VerificationConfig,
    worker_id: int,
    *,
    tenant_url: str | None = None,
    retry_count: int = 0,
    reload: bool = False,
) -> VerificationResult:
    """Verify a remote window like `verification.verify_window` does a local one.

    VM-001 is `check_authentication` exactly as for a local window; VM-002 is `check_carried_cookies`;
    VM-003 is reported as not applicable (nothing was copied: the node runs a fresh temporary profile).

    Args:
        session: The remote window, its cookies already carried.
        cookies: The carried cookies (what the browser must hold).
        config: Which methods run and their time-outs (`auth_check_url` is the tenant's page).
        worker_id: The window's worker id (for the result).
        tenant_url: The tenant's address (default: `config.auth_check_url`).
        retry_count: Remediation steps that preceded this verification.
        reload: Reload the page already open instead of navigating to it.
    """
    started_at = datetime.now(UTC)
    tenant = tenant_url or config.auth_check_url
    results: dict[VerificationMethod, MethodResult] = {}
    if config.is_enabled(VerificationMethod.CAPABILITY_CHECK):
        results[VerificationMethod.CAPABILITY_CHECK] = check_carried_cookies(session, cookies, tenant)
    if config.is_enabled(VerificationMethod.AUTH_CHECK):
        results[VerificationMethod.AUTH_CHECK] = check_authentication(
            session, config.auth_check_url, config.auth_check_timeout, reload=reload
        )
    if config.is_enabled(VerificationMethod.FILE_VERIFICATION):
        results[VerificationMethod.FILE_VERIFICATION] = MethodResult(
            VerificationStatus.SKIPPED,
            0.0,
            "not applicable: a remote window runs a fresh temporary profile on its node, nothing was copied",
        )
    result = VerificationResult(worker_id, results, started_at, datetime.now(UTC), retry_count)
    failed = result.get_failed_methods()
    if failed:
        result.error_details = "; ".join(f"{m.value}: {results[m].detail}" for m in failed)
    return result


@dataclass
class RemoteWindow:
    """A verified remote window and how it got there.

    Attributes:
        session: The signed-in remote session.
        verification: Its last (successful) verification.
        carried_by: `cdp` or `webdriver` (how the cookies were set last).
        steps: Remediation steps taken, in order (`recarry`, `new_session`), empty when the first try passed.
        failures: The verification failures that led to those steps (one line each).
    """

    session: RemoteBrowserSession
    verification: VerificationResult
    carried_by: str
    steps: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)  # how long each step of `steps` took


class RemoteWindowNotVerified(VerificationError):
    """No remote session passed (`open_remote_window`): the message names every failure; the attributes
    keep the last failed verification and the steps tried, for the window's report."""

    def __init__(
        self,
        message: str,
        last: VerificationResult | None,
        steps: list[str],
        failures: list[str],
        step_seconds: list[float],
    ) -> None:
        super().__init__(message)
        self.last = last
        self.steps = steps
        self.failures = failures
        self.step_seconds = step_seconds


def open_remote_window(
    config: RemoteConfig,
    cookies: list[CarriedCookie],
    tenant_url: str,
    verification: VerificationConfig,
    worker_id: int,
    download_dir: Path,
    *,
    client: GridClient | None = None,
    registry: SessionRegistry | None = None,
    max_sessions: int = 2,
) -> RemoteWindow:
    """Start a remote window, carry the cookies, verify it; remediate a failure.

    The ladder: set the cookies again and load the authenticated page again; then a new session (on any
    node), up to `max_sessions` sessions. Every failed session is quit (and forgotten in `registry`).

    Raises:
        VerificationError: No session passed; the message names every failure (one line).
        BrowserStartError: The Grid did not start a session.
    """
    log = get_logger(__name__)
    steps: list[str] = []
    failures: list[str] = []
    step_seconds: list[float] = []
    last: VerificationResult | None = None
    for attempt in range(max_sessions):
        step_started = time.monotonic()
        if attempt:
            steps.append("new_session")
        session = start_remote_session(config, download_dir, client=client, registry=registry)
        try:
            for retry in range(2):
                if retry:
                    steps.append("recarry")
                    step_started = time.monotonic()
                outcome = carry_cookies(session, cookies, tenant_url)
                result = verify_remote_window(
                    session,
                    cookies,
                    verification,
                    worker_id,
                    tenant_url=tenant_url,
                    retry_count=len(steps),
                    reload=bool(retry),
                )
                if attempt or retry:
                    step_seconds.append(time.monotonic() - step_started)
                if result.is_success():
                    return RemoteWindow(session, result, outcome.method, steps, failures, step_seconds)
                last = result
                failures.append(f"{session.facts.describe()}: {result.error_details}")
                log.warning(
                    "grid.window_not_verified", node=session.facts.node_uri, reason=result.error_details
                )
        except (WindowError, RetryableTaskError) as exc:  # the session died or refused: try a new one
            if len(step_seconds) < len(steps):
                step_seconds.append(time.monotonic() - step_started)
            failures.append(f"{session.facts.describe()}: {exc}")
        except BaseException:
            session.quit()
            raise
        session.quit()
    raise RemoteWindowNotVerified(
        f"no remote window could be verified ({'; '.join(failures)})", last, steps, failures, step_seconds
    )
