"""A verified window: start a browser on a `WorkerProfile`, prove it, and remediate that window alone.

Remediation is planned from the diagnosis (which methods failed) and bounded by `RetryConfig` and a time
budget: retry → reload → re-clone (clones only) → restart, each step recorded with its outcome and timing.
Nothing here touches another worker's window.

A window on the base (window A) gets `BASE_WINDOW_PREFERENCES` only while its browser runs: the prior values
are journaled before launch and put back after every quit (`coupadl.profiles.preferences`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.reports import RemediationAction, RemediationStep, WindowReport
from coupadl.browser.session import BrowserSession, SessionState
from coupadl.browser.verification import verify_window
from coupadl.errors import (
    BrowserCrashedError,
    BrowserStartError,
    CoupadlError,
    DefaultProfileRefusedError,
    DriverError,
    ProfileOperationError,
)
from coupadl.log import get_logger
from coupadl.profiles.models import (
    MethodResult,
    ProfileState,
    ProfileType,
    RetryConfig,
    VerificationConfig,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
    WorkerProfile,
)
from coupadl.profiles.preferences import (
    BASE_WINDOW_PREFERENCES,
    override_preferences,
    restore_preferences,
)
from coupadl.retrying import delay_before

__all__ = [
    "ProfileOps",
    "RemediationAction",
    "RemediationStep",
    "VerifiedWindow",
    "WindowReport",
    "plan_remediation",
]


class ProfileOps(Protocol):
    """What a window needs from the profile layer: VM-003 and re-cloning from the run's snapshot."""

    def verify_profile_files(self, profile: WorkerProfile) -> MethodResult:
        """Compare the clone's key files with the snapshot's."""
        ...

    def reclone(self, profile: WorkerProfile) -> WorkerProfile:
        """Replace the clone with a fresh copy of the snapshot."""
        ...


def plan_remediation(
    failed: Mapping[VerificationMethod, VerificationStatus], profile_type: ProfileType, retry: RetryConfig
) -> list[RemediationAction]:
    """The ladder for a diagnosis (each failed method with how it failed): skip steps that cannot help.

    Only a sign-in check that timed out is worth verifying again (up to `max_attempts - 1` times); a
    redirect to sign-in is a definite answer, so it goes to a reload and then to fresh state. A spoiled clone
    (files) or a window on the wrong folder (capability) is not helped by verifying or reloading at all.
    """
    ladder: list[RemediationAction] = []
    if failed and set(failed) <= {VerificationMethod.AUTH_CHECK}:
        if failed[VerificationMethod.AUTH_CHECK] is VerificationStatus.TIMEOUT:
            ladder += [RemediationAction.RETRY] * max(0, retry.max_attempts - 1)
        ladder.append(RemediationAction.RELOAD)
    if profile_type is ProfileType.CLONE:
        ladder.append(RemediationAction.RECLONE)
    ladder.append(RemediationAction.RESTART)
    return ladder


class VerifiedWindow:
    """Opens one window on its profile, verifies it and remediates it alone.

    Args:
        profile: the window's profile (READY: already cloned for clones).
        launch: how browsers are started.
        verification: methods, timeouts and retry policy.
        profile_ops: VM-003 and re-cloning (used for clones only).
        download_dir: where this window's downloads land.
        budget_s: the longest remediation may take before the window is given up.
        sleep: injectable for tests of the backoff.
    """

    def __init__(
        self,
        profile: WorkerProfile,
        launch: LaunchConfig,
        verification: VerificationConfig,
        profile_ops: ProfileOps | None,
        download_dir: Path,
        *,
        budget_s: float = 180.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.profile = profile
        self.launch = launch
        self.verification = verification
        self.profile_ops = profile_ops
        self.download_dir = download_dir
        self.budget_s = budget_s
        self._sleep = sleep
        self.session: BrowserSession | None = None
        self.cancelled = False
        # Called once with the session, when the browser has started and before it is verified (the worker
        # preloads its first task's page in the spare tab meanwhile: see `BrowserSession.preload`).
        self.after_start: Callable[[BrowserSession], None] | None = None
        self.report = WindowReport(profile.worker_id, profile.profile_type, profile.profile_path)
        self._log = get_logger("coupadl.window").bind(window=self.report.letter)

    # --- the pieces -----------------------------------------------------------------------------------------

    def _file_result(self) -> MethodResult | None:
        if self.profile.profile_type is not ProfileType.CLONE or self.profile_ops is None:
            return None
        if not self.verification.is_enabled(VerificationMethod.FILE_VERIFICATION):
            return None
        # Checked again here, just before launch, not reused from cloning time: a clone spoiled in between
        # (a failed disk, a cleaner) is caught before a browser runs on it. A few MB of SHA-256.
        return self.profile_ops.verify_profile_files(self.profile)

    def cancel(self) -> None:
        """Refuse every later browser start (the worker is going away); the caller closes what runs."""
        self.cancelled = True

    def _start(self) -> None:
        self._stop()
        if self.cancelled:
            raise BrowserStartError("the window is being closed")
        on_base = self.profile.profile_type is ProfileType.BASE
        if on_base:
            profile = self.profile
            override_preferences(profile.profile_path, profile.profile_name, BASE_WINDOW_PREFERENCES)
        try:
            self.session = BrowserSession.start(
                self.launch,
                self.profile.profile_path,
                self.profile.profile_name,
                self.download_dir,
                restore_last_session=on_base,  # clones start on about:blank (profiles/session_cookies.py)
            )
        except BaseException:
            if on_base:
                restore_preferences(self.profile.profile_path)
            raise
        self.report.browser_pid = self.session.browser_pid

    def _stop(self) -> None:
        if self.session is not None:
            self.session.quit()
            self.session = None
        if self.profile.profile_type is ProfileType.BASE:
            # After the quit (the browser writes `Preferences` on its way out): the base is the operator's.
            try:
                restore_preferences(self.profile.profile_path)
            except ProfileOperationError as exc:
                # The journal stays: the next start of a window or of coupadl puts the values back.
                self._log.error("base preferences not restored", error=str(exc))

    def _verify(self, file_result: MethodResult | None, *, reload: bool = False) -> VerificationResult:
        if self.session is None:
            raise BrowserStartError("no browser is running")
        if self.profile.state is not ProfileState.READY:
            self.profile.transition(ProfileState.READY)
        result = verify_window(
            self.session,
            self.profile,
            self.verification,
            file_result,
            retry_count=len(self.report.remediations),
            reload=reload,
        )
        self.report.verification = result
        if result.is_success():
            self.profile.transition(ProfileState.VERIFIED)
            self.session.transition(SessionState.AUTHENTICATED)
        return result

    def _reclone(self) -> MethodResult | None:
        if self.profile_ops is None:
            raise ProfileOperationError("no snapshot to re-clone from")
        self._stop()
        self.profile = self.profile_ops.reclone(self.profile)
        self.report.profile_path = self.profile.profile_path
        return self._file_result()

    def _run_step(
        self, action: RemediationAction, file_result: MethodResult | None
    ) -> tuple[bool, MethodResult | None, str]:
        """Do one remediation step and verify again. Returns (verified, file result, detail)."""
        if action is RemediationAction.RECLONE:
            file_result = self._reclone()
            if file_result is not None and file_result.status is not VerificationStatus.SUCCESS:
                return False, file_result, f"fresh clone failed its file check: {file_result.detail}"
        if action in (RemediationAction.RECLONE, RemediationAction.RESTART) or self.session is None:
            self._start()
        result = self._verify(file_result, reload=action is RemediationAction.RELOAD)
        detail = "verified" if result.is_success() else (result.error_details or result.overall_status.value)
        return result.is_success(), file_result, detail

    # --- the whole ----------------------------------------------------------------------------------------

    def open(self) -> bool:
        """Start and verify the window, remediating as planned. True when verified; see `report` either way.

        Raises `DefaultProfileRefusedError` or a `DriverError` at once (no remediation can help; the operator
        must act: another profile, or `coupadl driver`).
        """
        started = time.monotonic()
        file_result = self._file_result()
        ok = False
        try:
            if file_result is not None and file_result.status is not VerificationStatus.SUCCESS:
                # A spoiled clone is never launched: replace it first.
                self._log.warning("clone failed its file check", detail=file_result.detail)
                step_started = time.monotonic()
                file_result = self._reclone()
                good = file_result is None or file_result.status is VerificationStatus.SUCCESS
                self.report.remediations.append(
                    RemediationStep(
                        RemediationAction.RECLONE,
                        good,
                        time.monotonic() - step_started,
                        "clone's key files differed from the snapshot before launch",
                    )
                )
            self._start()
            if self.after_start is not None and self.session is not None:
                self.after_start(self.session)
            ok = self._verify(file_result).is_success()
        except (DefaultProfileRefusedError, DriverError):
            self._stop()
            raise
        except (BrowserStartError, BrowserCrashedError, ProfileOperationError) as exc:
            self.report.diagnosis = str(exc)
            self._log.warning("window did not start", error=str(exc))
        if not ok:
            ok = self._remediate(file_result, started)
        if not ok:
            self._stop()
            if not self.report.diagnosis and self.report.verification is not None:
                self.report.diagnosis = self.report.verification.error_details or "verification failed"
        else:
            self.report.diagnosis = ""
        self._log.info(
            "window ready" if ok else "window failed",
            verified=ok,
            steps=[s.action.value for s in self.report.remediations],
        )
        return ok

    def _remediate(self, file_result: MethodResult | None, started: float) -> bool:
        last = self.report.verification
        failed = {m: last.method_results[m].status for m in last.get_failed_methods()} if last else {}
        ladder = plan_remediation(failed, self.profile.profile_type, self.verification.retry_config)
        wait = self.verification.retry_config.wait()
        for number, action in enumerate(ladder, start=1):
            if time.monotonic() - started > self.budget_s:
                self.report.diagnosis = f"gave up after {self.budget_s:.0f} s of remediation"
                return False
            self._sleep(delay_before(wait, number))
            step_started = time.monotonic()
            try:
                ok, file_result, detail = self._run_step(action, file_result)
            except (DefaultProfileRefusedError, DriverError):
                self._stop()
                raise
            except CoupadlError as exc:
                ok, detail = False, str(exc)
                self.report.diagnosis = detail
            self.report.remediations.append(
                RemediationStep(action, ok, time.monotonic() - step_started, detail)
            )
            self._log.info("remediation step", step=action.value, ok=ok, detail=detail)
            if ok:
                return True
        return False

    def close(self) -> None:
        """Quit the browser cleanly (cookies flushed). The profile's cleanup is the profile layer's job."""
        self._stop()
