"""`BrowserSession` (one persistent browser per worker) and `Tab` (one short-lived tab per task), seed 002.

The session keeps its main window for its whole life and never closes it; every task gets a fresh tab that is
closed afterwards, so cookies and sign-in carry over from task to task while page state does not.
Every Selenium call goes through `_call`, which translates Selenium's errors at this one boundary.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from selenium.webdriver.chromium.webdriver import ChromiumDriver
from selenium.webdriver.remote.command import Command

from coupadl.browser.launcher import LaunchConfig, capability_pids, reported_user_data_dir, start_driver
from coupadl.browser.processes import TrackedProcess, alive, end_trees
from coupadl.browser.signin import SIGNIN_PROBE_JS
from coupadl.browser.translate import SeleniumError, translate
from coupadl.errors import CoupadlError

__all__ = ["BrowserSession", "SessionState", "Tab", "TabStatus"]

T = TypeVar("T")


class SessionState(StrEnum):
    """`BrowserSession` lifecycle: INITIALIZING → AUTHENTICATED → ACTIVE → CLOSING → CLOSED;
    ERROR → RECOVERING → ACTIVE on recovery."""

    INITIALIZING = "initializing"
    AUTHENTICATED = "authenticated"
    ACTIVE = "active"
    CLOSING = "closing"
    CLOSED = "closed"
    ERROR = "error"
    RECOVERING = "recovering"


_SESSION_TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    SessionState.INITIALIZING: frozenset(
        {SessionState.AUTHENTICATED, SessionState.ERROR, SessionState.CLOSING}
    ),
    SessionState.AUTHENTICATED: frozenset({SessionState.ACTIVE, SessionState.ERROR, SessionState.CLOSING}),
    SessionState.ACTIVE: frozenset({SessionState.ERROR, SessionState.CLOSING}),
    SessionState.ERROR: frozenset({SessionState.RECOVERING, SessionState.CLOSING}),
    SessionState.RECOVERING: frozenset(
        {SessionState.ACTIVE, SessionState.AUTHENTICATED, SessionState.ERROR, SessionState.CLOSING}
    ),
    SessionState.CLOSING: frozenset({SessionState.CLOSED}),
    SessionState.CLOSED: frozenset(),
}


class TabStatus(StrEnum):
    """`Tab` lifecycle: OPENING → LOADING → PROCESSING → COMPLETED → CLOSING → CLOSED; ERROR → FAILED."""

    OPENING = "opening"
    LOADING = "loading"
    PROCESSING = "processing"
    COMPLETED = "completed"
    CLOSING = "closing"
    CLOSED = "closed"
    ERROR = "error"
    FAILED = "failed"


class BrowserSession:
    """A persistent WebDriver session on one profile, with its processes tracked by PID.

    Downloads of every tab go to `download_dir` (set once through CDP for the whole browser).
    """

    def __init__(self, driver: ChromiumDriver, user_data_dir: Path, download_dir: Path) -> None:
        self._driver = driver
        self.user_data_dir = user_data_dir
        self.download_dir = download_dir
        self.state = SessionState.INITIALIZING
        self.startup_time = datetime.now(UTC)
        self.last_activity = self.startup_time
        self.active_tabs: dict[str, str] = {}
        self._page_timeout: float | None = None  # unknown until set through `set_page_timeout`
        self._user_agent: str | None = None  # read once, by `user_agent`
        browser_pid, driver_pid = capability_pids(driver)
        self.browser_process = TrackedProcess.of(browser_pid, "browser")
        self.driver_process = TrackedProcess.of(driver_pid, "driver")
        self.main_window_handle: str = self._call(
            "read the main window", lambda: driver.current_window_handle
        )
        self.set_download_dir(download_dir)

    @classmethod
    def start(
        cls, launch: LaunchConfig, user_data_dir: Path, profile_name: str, download_dir: Path
    ) -> BrowserSession:
        """Launch a browser on `user_data_dir/profile_name` and wrap it. Raises `BrowserStartError`."""
        download_dir.mkdir(parents=True, exist_ok=True)
        driver = start_driver(launch, user_data_dir, profile_name)
        try:
            return cls(driver, user_data_dir, download_dir)
        except BaseException:
            _quit_quietly(driver)
            raise

    # --- facts about the running browser ----------------------------------------------------------

    @property
    def tracked_processes(self) -> list[TrackedProcess]:
        """Driver and browser processes (their children are found through them)."""
        return [p for p in (self.driver_process, self.browser_process) if p is not None]

    @property
    def browser_pid(self) -> int | None:
        """PID of the browser's main process as reported by the driver."""
        return self.browser_process.pid if self.browser_process else None

    def reported_user_data_dir(self) -> str | None:
        """The user-data-dir the driver says this browser runs on (VM-002)."""
        return reported_user_data_dir(self._driver.capabilities)

    def is_alive(self) -> bool:
        """True when the browser answers a cheap command and its processes are running."""
        if self.state is SessionState.CLOSED or len(alive(self.tracked_processes)) < len(
            self.tracked_processes
        ):
            return False
        try:
            self._call("check the browser", lambda: self._driver.window_handles)
        except CoupadlError:
            return False
        return True

    def transition(self, new: SessionState) -> None:
        """Move to `new`, refusing transitions the lifecycle does not allow."""
        if new is self.state:
            return
        if new not in _SESSION_TRANSITIONS[self.state]:
            raise ValueError(f"session cannot go from {self.state.value} to {new.value}")
        self.state = new

    # --- commands ---------------------------------------------------------------------------------

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        try:
            result = fn()
        except SeleniumError as exc:
            raise translate(exc, action) from exc
        except (OSError, ConnectionError) as exc:  # the driver's HTTP endpoint is gone
            raise translate(exc, action) from exc
        self.last_activity = datetime.now(UTC)
        return result

    def set_download_dir(self, path: Path) -> None:
        """Route every tab's downloads to `path` (created if needed)."""
        path.mkdir(parents=True, exist_ok=True)
        self._call(
            "set the download folder",
            lambda: self._driver.execute_cdp_cmd(
                "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(path.resolve())}
            ),
        )
        self.download_dir = path

    def cdp(self, action: str, command: str, params: dict[str, Any] | None = None) -> Any:
        """Send a Chrome DevTools Protocol command to the focused tab; errors are translated."""
        return self._call(action, lambda: self._driver.execute_cdp_cmd(command, params or {}))

    def user_agent(self) -> str:
        """The User-Agent this browser sends (asked once, then remembered)."""
        if self._user_agent is None:
            self._user_agent = str(
                self._call(
                    "read the user agent", lambda: self._driver.execute_script("return navigator.userAgent")
                )
            )
        return self._user_agent

    def set_page_timeout(self, timeout: float) -> None:
        """Longest wait for a page load, sent to the driver only when it changes (saves a round trip per
        page: the timeout is session-wide, not per tab)."""
        if timeout != self._page_timeout:
            self._call("set the page timeout", lambda: self._driver.set_page_load_timeout(timeout))
            self._page_timeout = timeout

    def current_page(self) -> tuple[str, bool]:
        """(address of the focused tab, whether the page shows a password form)."""
        final = self._call("read the address", lambda: self._driver.current_url)
        has_form = bool(
            self._call("look for a sign-in form", lambda: self._driver.execute_script(SIGNIN_PROBE_JS))
        )
        return str(final), has_form

    def load_in_main_window(self, url: str, timeout: float, *, reload: bool = False) -> tuple[str, bool]:
        """Open `url` (or reload the page already open) in the main window; return `current_page()`."""
        self._call(
            "switch to the main window", lambda: self._driver.switch_to.window(self.main_window_handle)
        )
        self.set_page_timeout(timeout)
        if reload:
            self._call("reload", self._driver.refresh)
        else:
            self._call(f"open {url}", lambda: self._driver.get(url))
        return self.current_page()

    @contextmanager
    def open_tab(self, task_id: str, po_number: str = "") -> Iterator[Tab]:
        """A fresh tab for one task, closed afterwards (the main window is never closed)."""
        driver = self._driver
        # Raw W3C commands: "new window" returns the handle and "close" the remaining handles, which saves
        # three round trips per task over the convenience wrappers.
        handle = str(
            self._call("open a tab", lambda: driver.execute(Command.NEW_WINDOW, {"type": "tab"}))["value"][
                "handle"
            ]
        )
        self._call("switch to the tab", lambda: driver.switch_to.window(handle))
        tab = Tab(self, handle, task_id, po_number)
        self.active_tabs[task_id] = handle
        try:
            yield tab
        finally:
            self.active_tabs.pop(task_id, None)
            tab.status = TabStatus.CLOSING
            try:
                self._close_task_tabs(handle)
                tab.status = TabStatus.CLOSED
            except CoupadlError:
                tab.status = TabStatus.FAILED
                raise

    def _close_task_tabs(self, handle: str) -> None:
        """Close the task's tab and any pop-up it opened, then go back to the main window."""
        driver = self._driver
        self._call("switch to the tab", lambda: driver.switch_to.window(handle))
        remaining = self._call("close a tab", lambda: driver.execute(Command.CLOSE))["value"] or []
        for other in remaining:
            if other != self.main_window_handle:
                self._close_other_tab(str(other))
        self._call("switch to the main window", lambda: driver.switch_to.window(self.main_window_handle))

    def _close_other_tab(self, handle: str) -> None:
        driver = self._driver
        self._call("switch tab", lambda: driver.switch_to.window(handle))
        self._call("close a tab", lambda: driver.execute(Command.CLOSE))

    def open_tab_count(self) -> int:
        """How many tabs the browser has open (the main window included)."""
        return len(self._call("list tabs", lambda: self._driver.window_handles))

    def quit(self, timeout: float = 10.0) -> None:
        """End the session cleanly (so cookies are flushed), then end by PID whatever is left."""
        if self.state is SessionState.CLOSED:
            return
        if self.state is not SessionState.CLOSING:
            self.transition(SessionState.CLOSING)
        _quit_quietly(self._driver)
        deadline = time.monotonic() + timeout
        while alive(self.tracked_processes) and time.monotonic() < deadline:
            time.sleep(0.1)
        end_trees(self.tracked_processes, timeout=2.0)
        self.transition(SessionState.CLOSED)


class Tab:
    """One short-lived tab processing one task inside a `BrowserSession`."""

    def __init__(self, session: BrowserSession, window_handle: str, task_id: str, po_number: str) -> None:
        self.session = session
        self.window_handle = window_handle
        self.task_id = task_id
        self.po_number = po_number
        self.creation_time = datetime.now(UTC)
        self.status = TabStatus.OPENING

    @property
    def download_dir(self) -> Path:
        """Where downloads triggered in this tab land (the session's folder)."""
        return self.session.download_dir

    def get(self, url: str, timeout: float | None = None) -> str:
        """Open `url` in this tab and return where the browser ended up (after redirects)."""
        self.status = TabStatus.LOADING
        driver = self.session._driver
        call = self.session._call
        if timeout is not None:
            self.session.set_page_timeout(timeout)
        call(f"open {url}", lambda: driver.get(url))
        self.status = TabStatus.PROCESSING
        return str(call("read the address", lambda: driver.current_url))

    @property
    def current_url(self) -> str:
        """The tab's address now."""
        driver = self.session._driver
        return str(self.session._call("read the address", lambda: driver.current_url))

    def run_js(self, script: str, *args: Any) -> Any:
        """Run `script` in the page (a function body; use `return`)."""
        driver = self.session._driver
        return self.session._call("run a page script", lambda: driver.execute_script(script, *args))

    def run_async_js(self, script: str, *args: Any, timeout: float = 30.0) -> Any:
        """Run asynchronous `script`; it calls `arguments[arguments.length - 1](result)` when done."""
        driver = self.session._driver
        call = self.session._call
        call("set the script timeout", lambda: driver.set_script_timeout(timeout))
        return call("run a page script", lambda: driver.execute_async_script(script, *args))

    def has_signin_form(self) -> bool:
        """True when the page shows a password form."""
        return bool(self.run_js(SIGNIN_PROBE_JS))


def _quit_quietly(driver: ChromiumDriver) -> None:
    with contextlib.suppress(SeleniumError, OSError, ConnectionError):
        driver.quit()  # if it fails, the processes are ended by PID afterwards
