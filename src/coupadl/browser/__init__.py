"""Browser windows: find the executables, launch on a profile, verify, remediate, track processes.

The names below are imported on first use (PEP 562): the supervisor of a local run imports
`coupadl.browser.discovery` and `coupadl.browser.launcher` (for `LaunchConfig`), and with them this package,
but drives no browser itself, so Selenium is imported only in the processes that do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coupadl.lean_imports import lazy_names

if TYPE_CHECKING:
    from coupadl.browser.discovery import Executables, find_executables
    from coupadl.browser.launcher import LaunchConfig, start_driver
    from coupadl.browser.reports import RemediationAction, RemediationStep, WindowReport
    from coupadl.browser.session import BrowserSession, SessionState, Tab, TabStatus
    from coupadl.browser.signin import signin_redirect
    from coupadl.browser.window import VerifiedWindow

__all__ = [
    "BrowserSession",
    "Executables",
    "LaunchConfig",
    "RemediationAction",
    "RemediationStep",
    "SessionState",
    "Tab",
    "TabStatus",
    "VerifiedWindow",
    "WindowReport",
    "find_executables",
    "signin_redirect",
    "start_driver",
]

_HOMES = {
    "BrowserSession": "coupadl.browser.session",
    "Executables": "coupadl.browser.discovery",
    "LaunchConfig": "coupadl.browser.launcher",
    "RemediationAction": "coupadl.browser.reports",
    "RemediationStep": "coupadl.browser.reports",
    "SessionState": "coupadl.browser.session",
    "Tab": "coupadl.browser.session",
    "TabStatus": "coupadl.browser.session",
    "VerifiedWindow": "coupadl.browser.window",
    "WindowReport": "coupadl.browser.reports",
    "find_executables": "coupadl.browser.discovery",
    "signin_redirect": "coupadl.browser.signin",
    "start_driver": "coupadl.browser.launcher",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES)
