"""`coupadl login`: a visible window on the base profile for the operator to sign in (SSO) by hand.

It returns when an authenticated page is reached or the operator closes the window, and always quits the
browser cleanly: cookies reach the disk only then (facts: ~30 s later otherwise, and never after a kill).
The window changes no preference of the profile (no ChromeDriver `prefs`; switches only, see
browser/launcher.py); a preference override a killed run left on it is put back first.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from coupadl.browser.session import BrowserSession
from coupadl.browser.signin import signin_redirect
from coupadl.cli.wiring import build_launch, repair_base_preferences
from coupadl.errors import CoupadlError, ProfileLockedException
from coupadl.profiles import get_base_profile_status, resolve_profile_dir
from coupadl.profiles.models import ProfileStatus
from coupadl.settings import Settings

__all__ = ["LoginOutcome", "sign_in_interactively"]


@dataclass(frozen=True)
class LoginOutcome:
    """Whether the profile ended signed in, and what to tell the operator."""

    signed_in: bool
    message: str


def sign_in_interactively(settings: Settings, *, timeout: float = 900.0, poll_s: float = 1.0) -> LoginOutcome:
    """Open the sign-in window and wait for the operator. Raises `SetupError` if it cannot start."""
    base_url = settings.require_base_url()
    launch = build_launch(settings)
    profile_dir = resolve_profile_dir(settings.profile)
    profile_dir.mkdir(parents=True, exist_ok=True)
    repair_base_preferences(settings)
    status = get_base_profile_status(profile_dir, settings.profile_name)
    if status.status is ProfileStatus.LOCKED:
        raise ProfileLockedException(status.explanation)
    target = settings.auth_check_url
    signed_in = False
    # Anything the operator downloads while signing in lands in a temporary folder, never beside the profile.
    with tempfile.TemporaryDirectory(prefix="coupadl-login-") as downloads:
        session = BrowserSession.start(launch, profile_dir, settings.profile_name, Path(downloads))
        try:
            session.load_in_main_window(target, settings.page_load_timeout)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    final, has_form = session.current_page()
                except CoupadlError:
                    break  # the operator closed the window
                # On the site itself (not a browser error page) and not sent to sign-in.
                on_site = final.startswith(base_url)
                if on_site and signin_redirect(target, final, has_password_form=has_form) is None:
                    signed_in = True
                    break
                time.sleep(poll_s)
        finally:
            session.quit()
    if signed_in:
        return LoginOutcome(True, f"signed in; profile saved in {profile_dir}")
    return LoginOutcome(
        False, f"not signed in (window closed or {timeout:.0f} s passed); profile {profile_dir}"
    )
