"""Prove a window runs on the intended, signed-in profile (spec 003 VM-001, VM-002; VM-003: profiles).

Each method records its own status, duration and what it saw, so a failure tells the operator why.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from coupadl.browser.signin import signin_redirect
from coupadl.errors import BrowserCrashedError, CoupadlError, OperationTimeoutError
from coupadl.profiles.models import (
    MethodResult,
    VerificationConfig,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
    WorkerProfile,
)

if TYPE_CHECKING:  # a session is handed in: its module (and Selenium) is imported by the caller
    from coupadl.browser.session import BrowserSession

__all__ = ["check_authentication", "check_capability", "same_path", "verify_window"]


def same_path(a: str | Path, b: str | Path) -> bool:
    """True if `a` and `b` name the same folder once links, `..` and (on Windows/macOS) case are resolved."""

    def norm(p: str | Path) -> str:
        return os.path.normcase(os.path.realpath(Path(p).expanduser()))

    return norm(a) == norm(b)


def check_capability(session: BrowserSession, profile: WorkerProfile) -> MethodResult:
    """VM-002: the user-data-dir the driver reports equals the profile's path."""
    started = time.monotonic()
    reported = session.reported_user_data_dir()
    if reported is None:
        status, detail = VerificationStatus.FAILED, "the driver reports no user-data-dir"
    elif same_path(reported, profile.profile_path):
        status, detail = VerificationStatus.SUCCESS, f"driver reports {reported}"
    else:
        status, detail = (
            VerificationStatus.FAILED,
            f"driver reports {reported}, expected {profile.profile_path}",
        )
    return MethodResult(status, time.monotonic() - started, detail)


def check_authentication(
    session: BrowserSession, url: str, timeout: float, *, reload: bool = False
) -> MethodResult:
    """VM-001: `url` (an authenticated page) is reached without any redirect to sign-in or SSO."""
    started = time.monotonic()
    try:
        final, has_form = session.load_in_main_window(url, timeout, reload=reload)
    except BrowserCrashedError:
        raise
    except CoupadlError as exc:
        timed_out = isinstance(exc, OperationTimeoutError)
        status = VerificationStatus.TIMEOUT if timed_out else VerificationStatus.FAILED
        return MethodResult(status, time.monotonic() - started, f"{url}: {exc}")
    redirect = signin_redirect(url, final, has_password_form=has_form)
    if redirect:
        return MethodResult(
            VerificationStatus.FAILED,
            time.monotonic() - started,
            f"redirected to {redirect} (signed out: run `coupadl login`)",
        )
    return MethodResult(VerificationStatus.SUCCESS, time.monotonic() - started, f"reached {final}")


def verify_window(
    session: BrowserSession,
    profile: WorkerProfile,
    config: VerificationConfig,
    file_result: MethodResult | None,
    *,
    retry_count: int = 0,
    reload: bool = False,
) -> VerificationResult:
    """Run every enabled method on the window and record the result on `profile`.

    Args:
        session: the running browser.
        profile: the profile it should be on.
        config: which methods run and their timeouts.
        file_result: VM-003 as computed by the profile layer (None: not applicable, e.g. the base).
        retry_count: how many remediation steps preceded this verification.
        reload: re-load the page already open instead of navigating to it (the "reload" remediation).
    """
    started_at = datetime.now(UTC)
    results: dict[VerificationMethod, MethodResult] = {}
    if config.is_enabled(VerificationMethod.CAPABILITY_CHECK):
        results[VerificationMethod.CAPABILITY_CHECK] = check_capability(session, profile)
    if config.is_enabled(VerificationMethod.AUTH_CHECK):
        results[VerificationMethod.AUTH_CHECK] = check_authentication(
            session, config.auth_check_url, config.auth_check_timeout, reload=reload
        )
    if config.is_enabled(VerificationMethod.FILE_VERIFICATION):
        results[VerificationMethod.FILE_VERIFICATION] = file_result or MethodResult(
            VerificationStatus.SKIPPED, 0.0, "base profile: nothing was copied"
        )
    result = VerificationResult(profile.worker_id, results, started_at, datetime.now(UTC), retry_count)
    failed = result.get_failed_methods()
    if failed:
        result.error_details = "; ".join(f"{m.value}: {results[m].detail}" for m in failed)
    profile.record_verification(result)
    return result
