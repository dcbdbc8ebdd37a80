"""`coupadl login`: a visible window on the base profile for the operator to sign in (SSO) by hand.

It says what is happening all along: that the window is open and on which profile and page, what to do in
it, how long it waits and that Ctrl+C cancels, that it is still waiting, and at the end where the profile is
and what to run next. It returns when an authenticated page is reached or the operator closes the window,
and always quits the browser cleanly: cookies reach the disk only then (~30 s later otherwise, and never
after a kill: facts/chromium-profiles.md). Ctrl+C (or SIGTERM) closes the window the same way (ending it by
PID if it does not quit).
The window changes no preference of the profile (no ChromeDriver `prefs`; switches only, see
browser/launcher.py); a preference override a killed run left on it is put back first.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console

from coupadl.browser.processes import TrackedProcess, end_trees
from coupadl.browser.session import BrowserSession
from coupadl.browser.signin import signin_redirect
from coupadl.cli.signals import interrupt_on_signals
from coupadl.cli.wiring import build_launch, repair_base_preferences
from coupadl.errors import CoupadlError, ProfileLockedException
from coupadl.profiles import get_base_profile_status, resolve_profile_dir
from coupadl.profiles.models import ProfileStatus
from coupadl.settings import Settings

__all__ = ["LoginOutcome", "format_wait", "sign_in_interactively"]

STILL_WAITING_EVERY_S = 15.0
"""How often a line says the window still waits, when the output is not a terminal (no spinner there)."""


@dataclass(frozen=True)
class LoginOutcome:
    """Whether the profile ended signed in (or the operator cancelled), and what to tell the operator."""

    signed_in: bool
    message: str
    cancelled: bool = False


def format_wait(seconds: float) -> str:
    """`14:59` for a duration in seconds (rounded up), `1:00:00` past an hour."""
    total = max(0, int(seconds + 0.999))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _next_command(settings: Settings, profile_dir: Path, base_url: str) -> str:
    profile = f" --profile {profile_dir}" if settings.profile else ""
    browser = f" --browser {settings.browser.value}" if settings.browser.value != "edge" else ""
    return f"coupadl check --base-url {base_url}{profile}{browser}"


def sign_in_interactively(
    settings: Settings, *, timeout: float = 900.0, console: Console, poll_s: float = 1.0
) -> LoginOutcome:
    """Open the sign-in window, tell the operator what to do, and wait for them.

    Raises:
        SetupError: The profile is locked, or no browser or driver (before any window starts).
    """
    base_url = settings.require_base_url()
    profile_dir = resolve_profile_dir(settings.profile)
    if profile_dir.exists():  # a new profile folder is made only once the browser is known to exist
        status = get_base_profile_status(profile_dir, settings.profile_name)
        if status.status is ProfileStatus.LOCKED:
            raise ProfileLockedException(status.explanation)
    launch = build_launch(settings)
    profile_dir.mkdir(parents=True, exist_ok=True)
    repair_base_preferences(settings)
    target = settings.auth_check_url
    console.print(f"Opening a {settings.browser.value} window on the profile {profile_dir}")
    console.print(f"at {target}")
    session: BrowserSession | None = None
    with interrupt_on_signals():  # Ctrl+C (and SIGTERM) close the window, even if inherited ignored
        try:
            # Anything downloaded while signing in lands in a temporary folder, never beside the profile.
            with tempfile.TemporaryDirectory(prefix="coupadl-login-") as downloads:
                session = BrowserSession.start(launch, profile_dir, settings.profile_name, Path(downloads))
                try:
                    session.load_in_main_window(target, settings.page_load_timeout)
                    console.print(
                        "Sign in there as you usually do (company SSO, MFA included). coupadl notices the "
                        "signed-in page by itself and closes the window; you need not close it."
                    )
                    console.print(f"Waiting up to {format_wait(timeout)}; press Ctrl+C to cancel.")
                    signed_in = _wait_for_sign_in(session, base_url, target, timeout, console, poll_s)
                finally:
                    if _browser_running(session):
                        console.print("Closing the window (the browser saves the sign-in as it quits)...")
                    session.quit()
        except KeyboardInterrupt:
            _close_after_interrupt(session)
            return LoginOutcome(
                False, f"cancelled: the window is closed; profile {profile_dir} is as it was", cancelled=True
            )
    if signed_in:
        return LoginOutcome(
            True,
            f"signed in; profile saved in {profile_dir}\n"
            f"next: {_next_command(settings, profile_dir, base_url)}",
        )
    return LoginOutcome(
        False,
        f"not signed in (window closed or {format_wait(timeout)} passed); profile {profile_dir}; "
        "run `coupadl login` again",
    )


def _browser_running(session: BrowserSession) -> bool:
    """True while the browser still runs (there is a window to close)."""
    return any(p.process() is not None for p in session.tracked_processes)


def _wait_for_sign_in(
    session: BrowserSession, base_url: str, target: str, timeout: float, console: Console, poll_s: float
) -> bool:
    started = time.monotonic()
    deadline = started + timeout
    next_line = started + STILL_WAITING_EVERY_S
    with console.status(f"waiting for the sign-in ({format_wait(timeout)} left)") as status:
        while (now := time.monotonic()) < deadline:
            try:
                final, has_form = session.current_page()
            except CoupadlError:
                return False  # the operator closed the window
            # On the site itself (not a browser error page) and not sent to sign-in.
            on_site = final.startswith(base_url)
            if on_site and signin_redirect(target, final, has_password_form=has_form) is None:
                return True
            left = format_wait(deadline - now)
            status.update(f"waiting for the sign-in ({left} left; Ctrl+C cancels)")
            if not console.is_terminal and now >= next_line:
                next_line = now + STILL_WAITING_EVERY_S
                console.print(f"still waiting for the sign-in ({left} left; Ctrl+C cancels)")
            time.sleep(poll_s)
    return False


def _close_after_interrupt(session: BrowserSession | None) -> None:
    """After Ctrl+C: quit the browser cleanly if it still answers, then end by PID whatever this process
    started and is still running (a browser caught half-way through its start)."""
    if session is not None:
        with contextlib.suppress(CoupadlError, KeyboardInterrupt, OSError):
            session.quit(timeout=5.0)
    children = [TrackedProcess.of(child.pid, "descendant") for child in psutil.Process().children()]
    end_trees(children, timeout=3.0)
