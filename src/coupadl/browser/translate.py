"""The one place where Selenium's exceptions become coupadl's (nothing else imports them)."""

from __future__ import annotations

import re
from pathlib import Path

from selenium.common.exceptions import (  # noqa: TID251 - this module is the translation boundary
    InvalidSessionIdException,
    JavascriptException,
    NoSuchWindowException,
    SessionNotCreatedException,
    TimeoutException,
    WebDriverException,
)

from coupadl.errors import (
    BrowserCrashedError,
    BrowserStartError,
    CoupadlError,
    DefaultProfileRefusedError,
    DriverMismatchError,
    DriverStartError,
    OperationTimeoutError,
    RetryableTaskError,
)
from coupadl.profiles.locations import is_default_user_data_dir

__all__ = ["SeleniumError", "translate", "translate_start_error"]

# Catch this at call sites inside the browser package, then hand it to `translate`.
SeleniumError = WebDriverException

# The driver process itself did not come up (Selenium's service start): a driver problem, never a sign-in.
_DRIVER_DID_NOT_START = re.compile(
    r"Service .* unexpectedly exited|Can not connect to the Service|executable may have wrong permissions|"
    r"executable needs to be in PATH|Service path cannot be None",
    re.IGNORECASE,
)

_DEAD_SESSION = re.compile(
    r"invalid session id|session deleted|disconnected|not connected to devtools|chrome not reachable|"
    r"no such window|target window already closed|web view not found|tab crashed|"
    r"connection refused|max retries exceeded|failed to establish a new connection|remote end closed|"
    # Selenium Grid: the router could not reach the node holding the session (node gone), or no longer knows
    # the session (the node was removed after its health check failed).
    r"unable to execute request for an existing session|unable to find session with id",
    re.IGNORECASE,
)


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "msg", None) or str(exc)
    return next((line.strip() for line in str(text).splitlines() if line.strip()), type(exc).__name__)


def translate_start_error(exc: BaseException, user_data_dir: Path) -> CoupadlError:
    """Explain why a browser did not start, in one line an operator can act on."""
    text = str(getattr(exc, "msg", None) or exc)
    version = re.search(
        r"only supports (?:Chrome|Microsoft Edge|MSEdge) version (\d+).*?version is (\d+)", text, re.S
    )
    if version:
        return DriverMismatchError(
            f"the driver supports browser version {version.group(1)} but the browser is {version.group(2)}: "
            "run `coupadl driver` to fetch the matching one, or give --driver PATH"
        )
    if _DRIVER_DID_NOT_START.search(text):
        return DriverStartError(
            f"the driver did not start ({_first_line(exc)}): run `coupadl driver`, or give --driver PATH "
            "(on macOS a downloaded driver may need `xattr -d com.apple.quarantine DRIVER`)"
        )
    # Chromium refuses remote control on its own default dir with this message, but any crash at start
    # (no display, a too-long socket path) says the same: only the default dir makes it a refusal.
    if "DevToolsActivePort" in text and is_default_user_data_dir(user_data_dir):
        return DefaultProfileRefusedError(
            f"the browser refuses remote control on {user_data_dir}, its own default profile folder: "
            "sign in once with `coupadl login` (a profile owned by coupadl), "
            "or use --profile-policy all-clones"
        )
    if isinstance(exc, SessionNotCreatedException) or "session not created" in text:
        return BrowserStartError(
            f"the browser did not start on {user_data_dir}: {_first_line(exc)} "
            "(is another browser using this profile, or is the path too long?)"
        )
    return BrowserStartError(f"the browser did not start: {_first_line(exc)}")


def translate(exc: BaseException, action: str) -> CoupadlError:
    """Map a Selenium error raised while doing `action` to what the caller should do about it."""
    text = str(getattr(exc, "msg", None) or exc)
    if isinstance(exc, InvalidSessionIdException | NoSuchWindowException) or _DEAD_SESSION.search(text):
        return BrowserCrashedError(f"{action}: the browser session is gone ({_first_line(exc)})")
    if isinstance(exc, TimeoutException):
        return OperationTimeoutError(f"{action}: timed out")
    if isinstance(exc, JavascriptException):
        return RetryableTaskError(f"{action}: script error ({_first_line(exc)})")
    if isinstance(exc, WebDriverException):
        return RetryableTaskError(f"{action}: {_first_line(exc)}")
    if isinstance(exc, OSError | ConnectionError):
        return BrowserCrashedError(f"{action}: the driver is unreachable ({exc})")
    return RetryableTaskError(f"{action}: {exc}")
