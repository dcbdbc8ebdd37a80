"""`BrowserSession` (one persistent browser per worker) and `Tab` (one task's view of a tab), seed 002.

The session keeps its main window for its whole life and never closes it. Tasks run in a kept task tab,
re-used from task to task while tasks succeed (a fresh tab per task costs the browser about twice the CPU of
a PO in a kept tab, BENCHMARKS.md "Tabs"). A second kept tab, the spare, loads the next task's page while the
task before runs (`open_tab(preload=...)`); the next task takes it and the two tabs swap roles, so a window
waits for the site once per task instead of after each (BENCHMARKS.md "Preloading the next PO"). What seed
002's fresh tab per task was for is kept by proof:

- any failure of a task closes its tab (and every pop-up), so the next task starts in a fresh one;
- every `Tab.get` must land on a new document: the page left by the previous `get` in that tab carries a
  marker (`window.__coupadlMarker`) and its `performance.timeOrigin` is remembered; a page that still has the
  marker or the same time origin is the old one (a navigation that did not commit: a download, a 204, a
  fragment) and raises `StalePageError`. A preloaded page passes the same proof before it is read, or the
  task opens its address itself;
- a tab whose last `get` failed (or was never made in this task) refuses to be read, so a task cannot read
  the previous PO's page after a failed or timed-out navigation.

Cookies and sign-in carry over from task to task; page state does not. Every Selenium call goes through
`_call`, which translates Selenium's errors at this one boundary.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from selenium.webdriver.chromium.webdriver import ChromiumDriver
from selenium.webdriver.remote.command import Command

from coupadl.browser.launcher import LaunchConfig, capability_pids, reported_user_data_dir, start_driver
from coupadl.browser.processes import TrackedProcess, alive, end_trees, wait_ended
from coupadl.browser.signin import SIGNIN_PROBE_JS
from coupadl.browser.states import SESSION_LIFECYCLE, TAB_LIFECYCLE, SessionState, TabStatus
from coupadl.browser.translate import SeleniumError, translate
from coupadl.errors import CoupadlError, StalePageError
from coupadl.lifecycle import StateMachine
from coupadl.log import get_logger

__all__ = ["NEW_DOCUMENT_JS", "BrowserSession", "SessionState", "Tab", "TabStatus"]

T = TypeVar("T")


# One round trip after each navigation: take the previous page's marker (absent on a new document), leave a
# new one, and read the address and the document's time origin.
NEW_DOCUMENT_JS = """
const previous = window.__coupadlMarker;
window.__coupadlMarker = arguments[0];
return [location.href, previous === undefined ? null : String(previous), performance.timeOrigin];
"""

OPEN_SPARE_JS = "window.open('about:blank', '_blank');"

PRELOAD_JS = """
const address = arguments[0];
setTimeout(function () { window.location.href = address; }, 30);
"""


class BrowserSession:
    """A persistent WebDriver session on one profile, with its processes tracked by PID.

    Downloads of every tab go to `download_dir` (set once through CDP for the whole browser).
    """

    TASK_TAB_MAX_TASKS: int = 50
    """Tasks one task tab serves before it is replaced by a fresh one. The kept tab's renderer grows with the
    pages it has shown (measured, Chromium 156: USS 87 MB after 10 POs, 129 after 50, ~170 from 100 on);
    a fresh tab costs a new renderer once (~0.2 CPU-s, about 0.004 CPU-s per PO at 50)."""

    def __init__(self, driver: ChromiumDriver, user_data_dir: Path, download_dir: Path) -> None:
        self._driver = driver
        self.user_data_dir = user_data_dir
        self.download_dir = download_dir
        self._state = StateMachine(SESSION_LIFECYCLE, SessionState.INITIALIZING)
        self.startup_time = datetime.now(UTC)
        self.last_activity = self.startup_time
        self.active_tabs: dict[str, str] = {}
        self._page_timeout: float | None = None  # unknown until set through `set_page_timeout`
        self._script_timeout: float | None = None  # likewise, `set_script_timeout`
        self._task_handle: str | None = None  # the task tab kept between tasks; None: open one
        self._task_tab_uses = 0  # tasks the current task tab has served
        self._focused: str | None = None  # the handle the driver's commands go to
        self._origins: dict[str, float | None] = {}  # each tab's last page: its `performance.timeOrigin`
        self._spare_handle: str | None = None  # the other kept tab, where the next task's page preloads
        self._spare_url = ""  # the address the spare tab was sent to ("" when none)
        self._user_agent: str | None = None  # read once, by `user_agent`
        browser_pid, driver_pid = capability_pids(driver)
        self.browser_process = TrackedProcess.of(browser_pid, "browser")
        self.driver_process = TrackedProcess.of(driver_pid, "driver")
        self.main_window_handle: str = self._call(
            "read the main window", lambda: driver.current_window_handle
        )
        self._focused = self.main_window_handle
        self.set_download_dir(download_dir)

    @classmethod
    def start(
        cls,
        launch: LaunchConfig,
        user_data_dir: Path,
        profile_name: str,
        download_dir: Path,
        *,
        restore_last_session: bool = True,
    ) -> BrowserSession:
        """Launch a browser on `user_data_dir/profile_name` and wrap it. Raises `BrowserStartError`.

        `restore_last_session`: see `coupadl.browser.launcher.build_options` (False for clones)."""
        download_dir.mkdir(parents=True, exist_ok=True)
        driver = start_driver(launch, user_data_dir, profile_name, restore_last_session=restore_last_session)
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

    @property
    def state(self) -> SessionState:
        """Where the session is in its lifecycle; changed only through `transition`."""
        return self._state.state

    def transition(self, new: SessionState) -> None:
        """Move to `new` (checked against `SESSION_LIFECYCLE`)."""
        self._state.to(new)

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

    def set_script_timeout(self, timeout: float) -> None:
        """Longest run of an asynchronous script, sent to the driver only when it changes."""
        if timeout != self._script_timeout:
            self._call("set the script timeout", lambda: self._driver.set_script_timeout(timeout))
            self._script_timeout = timeout

    def _focus(self, handle: str) -> None:
        """Send the next commands to `handle` (no round trip when they already go there)."""
        if handle != self._focused:
            self._focused = None  # unknown if the switch fails
            self._call("switch tab", lambda: self._driver.switch_to.window(handle))
            self._focused = handle

    def current_page(self) -> tuple[str, bool]:
        """(address of the focused tab, whether the page shows a password form)."""
        final = self._call("read the address", lambda: self._driver.current_url)
        has_form = bool(
            self._call("look for a sign-in form", lambda: self._driver.execute_script(SIGNIN_PROBE_JS))
        )
        return str(final), has_form

    def load_in_main_window(self, url: str, timeout: float, *, reload: bool = False) -> tuple[str, bool]:
        """Open `url` (or reload the page already open) in the main window; return `current_page()`."""
        self._focus(self.main_window_handle)
        self.set_page_timeout(timeout)
        if reload:
            self._call("reload", self._driver.refresh)
        else:
            self._call(f"open {url}", lambda: self._driver.get(url))
        return self.current_page()

    @contextmanager
    def open_tab(
        self, task_id: str, po_number: str = "", *, opens: str = "", preload: str = ""
    ) -> Iterator[Tab]:
        """The task tab for one task: the window's task tab kept from the last task that succeeded, or a
        fresh one. When the task raises (anything), its tab and every pop-up are closed, so the next task gets
        a fresh tab; the main window is never closed.

        `opens`: the address the task opens first; when the spare tab was sent there (`preload` of the task
        before), the two kept tabs swap roles and the task's first `get` of it takes the page already loaded
        there, once it is proven new (see `Tab`). `preload`: the next task's address, sent to the spare tab
        now so that its page loads while this task runs.
        """
        if opens and self._spare_handle is not None and self._spare_url == opens:
            self._task_handle, self._spare_handle = self._spare_handle, self._task_handle
            self._spare_url = ""
            preloaded = opens
        else:
            preloaded = ""
        if self._task_handle is None:
            self._task_handle = self._new_tab()
        if preload:
            self._preload(preload)
        handle = self._task_handle
        self._focus(handle)
        tab = Tab(self, handle, task_id, po_number, preloaded=preloaded)
        self.active_tabs[task_id] = handle
        try:
            yield tab
        except BaseException:
            tab.set_status(TabStatus.FAILED)
            self.active_tabs.pop(task_id, None)
            with contextlib.suppress(CoupadlError):  # a dead browser: the caller finds out and restarts
                self.replace_task_tab()
            raise
        self.active_tabs.pop(task_id, None)
        tab.set_status(TabStatus.COMPLETED)
        self._task_tab_uses += 1
        extra = [
            h
            for h in self._call("list tabs", lambda: self._driver.window_handles)
            if h not in (self.main_window_handle, handle, self._spare_handle)
        ]
        # Pop-ups the task opened go, and so does the tab that opened them; a long-served tab is renewed.
        if extra or self._task_tab_uses >= self.TASK_TAB_MAX_TASKS:
            self.replace_task_tab()

    def _new_tab(self) -> str:
        """Open a tab and mark its blank page, so that a first `get` that does not commit is noticed too."""
        driver = self._driver
        # Raw W3C "new window" returns the handle: one round trip less than the convenience wrapper.
        value = self._call("open a tab", lambda: driver.execute(Command.NEW_WINDOW, {"type": "tab"}))
        handle = str(value["value"]["handle"])
        self._focus(handle)
        _href, _previous, self._origins[handle] = self._call(
            "mark the new tab", lambda: driver.execute_script(NEW_DOCUMENT_JS, secrets.token_hex(8))
        )
        return handle

    def preload(self, url: str) -> None:
        """Start loading `url` in the spare tab (the task tab and the spare opened if need be) and come back
        to the main window; a task that `opens` it takes the page (see `open_tab`). A failure costs only
        the head start (logged)."""
        self._preload(url)
        with contextlib.suppress(CoupadlError):  # a browser that is gone fails its verification next
            self._focus(self.main_window_handle)

    def _new_spare_tab(self) -> str:
        """Open the spare tab from the task tab's page, so that both share one renderer process (a tab of
        its own would start another, ~0.1 CPU-s and tens of MB per window), and mark its blank page."""
        driver = self._driver
        assert self._task_handle is not None, "the spare tab is opened from the task tab"
        self._focus(self._task_handle)
        before = set(self._call("list tabs", lambda: driver.window_handles))
        self._call("open the spare tab", lambda: driver.execute_script(OPEN_SPARE_JS))
        opened = [h for h in self._call("list tabs", lambda: driver.window_handles) if h not in before]
        if len(opened) != 1:
            raise CoupadlError(f"opening the spare tab gave {len(opened)} new tabs")
        handle = str(opened[0])
        self._focus(handle)
        _href, _previous, self._origins[handle] = self._call(
            "mark the spare tab", lambda: driver.execute_script(NEW_DOCUMENT_JS, secrets.token_hex(8))
        )
        return handle

    def _preload(self, url: str) -> None:
        """Send the spare tab (it and the task tab opened if need be) to `url` without waiting for the page.

        The navigation starts from a timer a moment after the script returns: started inside the script,
        ChromeDriver would hold the answer until the page had loaded. Whatever the spare tab then shows is
        only ever read through `Tab`'s proof that it is a new page. A failure loses only the head start
        (logged): the task that wanted the page opens it itself.
        """
        self._spare_url = ""
        try:
            if self._task_handle is None:
                self._task_handle = self._new_tab()
            if self._spare_handle is None:
                self._spare_handle = self._new_spare_tab()
            self._focus(self._spare_handle)
            self._call("preload the next page", lambda: self._driver.execute_script(PRELOAD_JS, url))
        except CoupadlError as exc:
            get_logger(__name__).info("preload failed", error=str(exc))
            return
        self._spare_url = url

    def replace_task_tab(self) -> None:
        """Close the task tab and every other tab but the main window; the next task opens a fresh one."""
        driver = self._driver
        self._task_handle = None
        self._spare_handle = None
        self._spare_url = ""
        self._task_tab_uses = 0
        self._origins.clear()
        handles = self._call("list tabs", lambda: driver.window_handles)
        for other in handles:
            if other != self.main_window_handle:
                self._focus(str(other))
                self._call("close a tab", lambda: driver.execute(Command.CLOSE))
                self._focused = None
        self._focus(self.main_window_handle)

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
        wait_ended(self.tracked_processes, timeout)  # a clean quit ends them; what is left is ended below
        end_trees(self.tracked_processes, timeout=2.0)
        self.transition(SessionState.CLOSED)


class Tab:
    """One task's use of the window's task tab (see the module docstring for what it proves and refuses)."""

    def __init__(
        self, session: BrowserSession, window_handle: str, task_id: str, po_number: str, preloaded: str = ""
    ) -> None:
        self.session = session
        self.window_handle = window_handle
        self.task_id = task_id
        self.po_number = po_number
        self._preloaded = preloaded  # the address the tab was sent to before the task: its first `get`
        self.creation_time = datetime.now(UTC)
        # PROCESSING once a `get` in this task landed on a new document
        self._status = StateMachine(TAB_LIFECYCLE, TabStatus.OPENING, f"of task {task_id}")

    @property
    def status(self) -> TabStatus:
        """Where this task's use of the tab is (see `TabStatus`); changed only through `set_status`."""
        return self._status.state

    def set_status(self, new: TabStatus) -> None:
        """Move to `new` (checked against `TAB_LIFECYCLE`)."""
        self._status.to(new)

    @property
    def download_dir(self) -> Path:
        """Where downloads triggered in this tab land (the session's folder)."""
        return self.session.download_dir

    def get(self, url: str, timeout: float | None = None) -> str:
        """Open `url` in this tab and return where the browser ended up (after redirects).

        Raises:
            StalePageError: The tab still shows the page it showed before (the navigation did not commit).
            OperationTimeoutError: The page did not load within `timeout`.
        """
        return self._navigate(url, timeout, None, ())[0]

    def open(self, url: str, timeout: float | None, script: str, *args: Any) -> tuple[str, Any]:
        """`get(url)`, then `run_js(script, *args)` on the new page in the same round trip as the check that
        the page is new (one WebDriver command less per page: ~13% less browser CPU per PO, BENCHMARKS.md).

        Returns:
            (where the browser ended up, what `script` returned).

        Raises:
            Like `get`; `script` never runs on a page that is not new.
        """
        return self._navigate(url, timeout, script, args)

    def open_async(
        self, url: str, timeout: float | None, script: str, *args: Any, script_timeout: float = 30.0
    ) -> tuple[str, Any]:
        """Like `open`, for an asynchronous `script` (it calls its last argument with the result): the
        script may wait inside the page (e.g. for it to settle) in the same round trip as the new-page check.

        Raises:
            Like `get`; `script` never runs on a page that is not new.
        """
        self.session.set_script_timeout(script_timeout)
        return self._navigate(url, timeout, script, args, asynchronous=True)

    def _navigate(
        self,
        url: str,
        timeout: float | None,
        script: str | None,
        args: tuple[Any, ...],
        *,
        asynchronous: bool = False,
    ) -> tuple[str, Any]:
        self.set_status(TabStatus.LOADING)
        session = self.session
        driver = session._driver
        if script is None:
            check, execute = NEW_DOCUMENT_JS, driver.execute_script
        elif asynchronous:
            check, execute = _then_async_script(script), driver.execute_async_script
        else:
            check, execute = _then_script(script), driver.execute_script
        last_origin = session._origins.get(self.window_handle)
        preloaded, self._preloaded = self._preloaded == url, ""

        def checked(what: str) -> tuple[Any, Any]:
            """(`NEW_DOCUMENT_JS`'s answer, what `script` returned) for the page the tab shows now."""
            answer = session._call(what, lambda: execute(check, secrets.token_hex(8), *args))
            return (answer[0], answer[1]) if script is not None else (answer, None)

        try:
            if timeout is not None:
                session.set_page_timeout(timeout)
            if preloaded:
                # ChromeDriver runs the check once the page the tab was sent to has loaded. A page that is
                # not new (the preload never started, or did not commit) is opened the ordinary way.
                page, result = checked("check the preloaded page is new")
                preloaded = _is_new(page, last_origin)
            if not preloaded:
                session._call(f"open {url}", lambda: driver.get(url))
                page, result = checked("check the page is new")
        except BaseException:
            self.set_status(TabStatus.ERROR)  # whatever the tab shows now, the task may not read it
            raise
        href, _previous, origin = page
        if not _is_new(page, last_origin):
            self.set_status(TabStatus.ERROR)
            raise StalePageError(f"opening {url} left the tab on the page it showed before ({href})")
        session._origins[self.window_handle] = origin
        self.set_status(TabStatus.PROCESSING)
        return str(href), result

    def _readable(self) -> None:
        if self.status is not TabStatus.PROCESSING:
            raise StalePageError(
                "the tab has no page of this task to read (no successful `get` yet, or the last one failed)"
            )

    @property
    def current_url(self) -> str:
        """The tab's address now."""
        self._readable()
        driver = self.session._driver
        return str(self.session._call("read the address", lambda: driver.current_url))

    def run_js(self, script: str, *args: Any) -> Any:
        """Run `script` in the page (a function body; use `return`)."""
        self._readable()
        driver = self.session._driver
        return self.session._call("run a page script", lambda: driver.execute_script(script, *args))

    def run_async_js(self, script: str, *args: Any, timeout: float = 30.0) -> Any:
        """Run asynchronous `script`; it calls `arguments[arguments.length - 1](result)` when done."""
        self._readable()
        driver = self.session._driver
        self.session.set_script_timeout(timeout)
        return self.session._call("run a page script", lambda: driver.execute_async_script(script, *args))

    def has_signin_form(self) -> bool:
        """True when the page shows a password form."""
        return bool(self.run_js(SIGNIN_PROBE_JS))


def _is_new(check: Any, last_origin: float | None) -> bool:
    """Whether `NEW_DOCUMENT_JS`'s answer shows a new document: no marker left, another time origin."""
    _href, previous, origin = check
    return previous is None and origin != last_origin


def _then_script(script: str) -> str:
    """`NEW_DOCUMENT_JS` (argument 0), then `script` (the other arguments) only when the page is new."""
    return (
        f"const check = (function () {{ {NEW_DOCUMENT_JS} }}).apply(null, [arguments[0]]);"
        " if (check[1] !== null) { return [check, null]; }"
        f" const then = function () {{ {script} }};"
        " return [check, then.apply(null, Array.prototype.slice.call(arguments, 1))];"
    )


def _then_async_script(script: str) -> str:
    """`_then_script` for an asynchronous `script`: it gets the other arguments and a callback last."""
    return (
        "const args = Array.prototype.slice.call(arguments); const done = args.pop();"
        f" const check = (function () {{ {NEW_DOCUMENT_JS} }}).apply(null, [args[0]]);"
        " if (check[1] !== null) { done([check, null]); return; }"
        f" const then = function () {{ {script} }};"
        " then.apply(null, args.slice(1).concat([function (result) { done([check, result]); }]));"
    )


def _quit_quietly(driver: ChromiumDriver) -> None:
    with contextlib.suppress(SeleniumError, OSError, ConnectionError):
        driver.quit()  # if it fails, the processes are ended by PID afterwards
