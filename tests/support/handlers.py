"""Task handlers for pool tests, given to the pool as `support.handlers:<name>`.

Spawned workers import them by name; `tests/` is on `sys.path` in the test process (rootdir conftest) and a
spawned child inherits the parent's `sys.path`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from coupadl.browser.session import Tab
from coupadl.browser.signin import signin_redirect
from coupadl.errors import MachineFaultError, PermanentTaskError, SessionExpiredError

__all__ = ["echo", "visit", "visit_or_fault"]


def visit(tab: Tab, payload: dict[str, Any], options: dict[str, Any], attempt: int) -> dict[str, Any]:
    """Open `payload["url"]` in the task's tab and report where it ran.

    Payload keys: `url`; `hold` (seconds to sleep after loading, simulating a slow or hung task);
    `hold_attempts` (attempt numbers that hold; all when absent); `fail` (raise after loading). Raises
    `SessionExpiredError` when the site sent the tab to sign-in.
    """
    session = tab.session
    tabs_at_start = session.open_tab_count()
    url = str(payload["url"])
    final = tab.get(url, timeout=float(options.get("page_load_timeout", 20.0)))
    redirected = signin_redirect(url, final, has_password_form=tab.has_signin_form())
    if redirected is not None:
        raise SessionExpiredError(f"signed out while opening {url}", redirected_to=redirected)
    if payload.get("fail"):
        raise RuntimeError(f"the handler failed on purpose in tab {tab.window_handle}")
    hold = float(payload.get("hold", 0.0))
    hold_attempts = payload.get("hold_attempts")
    if hold and (hold_attempts is None or attempt in hold_attempts):
        time.sleep(hold)
    return {
        "worker_pid": os.getpid(),
        "browser_pid": session.browser_pid,
        "handle": tab.window_handle,
        "main_handle": session.main_window_handle,
        "tabs_at_start": tabs_at_start,
        "tabs_during": session.open_tab_count(),
        "attempt": attempt,
        "at": time.monotonic(),  # when the task ended (orders one worker's tasks)
        "final_url": final,
    }


def visit_or_fault(
    tab: Tab, payload: dict[str, Any], options: dict[str, Any], attempt: int
) -> dict[str, Any]:
    """`visit`, but a payload with `fault: true` raises `MachineFaultError` after loading (a disk that
    filled up while the task saved its files)."""
    result = visit(tab, payload, options, attempt)
    if payload.get("fault"):
        raise MachineFaultError(
            "the disk holding /out is full (0.0 MB free)", folder="/out", hint="free space"
        )
    return result


def echo(tab: Tab, payload: object, options: object, attempt: int) -> EchoResult:
    """Send back what the worker received: the payload, the options, the attempt and the tab's label, as the
    worker got them after their trip through the process boundary (the round-trip test compares them).

    The payload `"fail"` raises `PermanentTaskError` instead (a `TaskError` goes back)."""
    if payload == "fail":
        raise PermanentTaskError("echo was asked to fail")
    return EchoResult(payload, options, attempt, tab.task_id, tab.po_number)


@dataclass(frozen=True)
class EchoResult:
    """What `echo` returns."""

    payload: object
    options: object
    attempt: int
    task_id: str
    po_number: str
