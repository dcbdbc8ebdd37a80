"""Browser windows: find the executables, launch on a profile, verify, remediate, track processes."""

from coupadl.browser.discovery import Executables, find_executables
from coupadl.browser.launcher import LaunchConfig, start_driver
from coupadl.browser.session import BrowserSession, SessionState, Tab, TabStatus
from coupadl.browser.signin import signin_redirect
from coupadl.browser.window import RemediationAction, RemediationStep, VerifiedWindow, WindowReport

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
