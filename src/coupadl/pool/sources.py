"""Where a worker's window comes from: one pool, two window sources.

* `LocalWindowSource`: a browser on this machine, on the base or on a clone made from the run's snapshot,
  verified and remediated by `VerifiedWindow` (VM-001..003; retry → reload → re-clone → restart).
* `RemoteWindowSource`: a Remote WebDriver session on a Selenium Grid node, signed in with the base's cookies
  carried in memory (`coupadl.browser.remote.open_remote_window`: VM-001 as locally, the carried-cookie and
  fresh-profile check, VM-003 not applicable; set the cookies again and reload, then a new session on any
  node).

The worker (`coupadl.pool.worker`) drives either through `WindowSource` and knows nothing else of them; the
`WorkerSpec` says which one a worker gets (`remote` set or not). A worker restarted by the pool (its window
lost, e.g. a node gone) builds its source again: a remote one then starts a new session on any node.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from coupadl.browser.reports import RemediationAction, RemediationStep, WindowReport
from coupadl.browser.states import SessionState
from coupadl.choices import BrowserKind
from coupadl.errors import CoupadlError, DriverError
from coupadl.log import get_logger
from coupadl.profiles.manager import ProfileManager
from coupadl.profiles.models import ProfileState, ProfileType, WorkerProfile

if TYPE_CHECKING:
    # The Grid modules are imported by a remote window only (`RemoteWindowSource.open`), the browser's by a
    # window that opens (`LocalWindowSource.open`): the supervisor imports this module for
    # `RemoteWindowSetup` and drives no browser.
    from coupadl.browser.carried import CarriedCookie
    from coupadl.browser.remote import RemoteConfig
    from coupadl.browser.session import BrowserSession
    from coupadl.browser.window import VerifiedWindow
    from coupadl.grid.client import GridClient
    from coupadl.pool.worker import WorkerSpec

__all__ = [
    "LocalWindowSource",
    "RemoteWindowSetup",
    "RemoteWindowSource",
    "WindowOpened",
    "WindowSource",
    "prepare_profile",
    "window_source",
]


@dataclass(frozen=True)
class RemoteWindowSetup:
    """What a worker needs to open its window on a Selenium Grid. Picklable (it travels in the `WorkerSpec`
    through the spawn pipe); the cookies are credentials: held in memory only and left out of `repr`.

    Attributes:
        config: The Grid and how its browsers start.
        cookies: The base's sign-in cookies (`coupadl.browser.carried.read_carried_cookies`).
        tenant_url: The tenant's address (which cookies must be held, and where VM-002 reads them).
        state_dir: The output folder's state folder: the run's sessions are recorded there
            (`coupadl.grid.SessionRegistry`), so a killed run's sessions are deleted at the next start.
        max_sessions: Sessions tried per window opening (the first plus new ones on any node).
        slot_wait_s: How long a window waits for a free slot before it gives up (see `_wait_for_slot`).
    """

    config: RemoteConfig
    cookies: tuple[CarriedCookie, ...] = field(repr=False)
    tenant_url: str
    state_dir: Path
    max_sessions: int = 2
    slot_wait_s: float = 60.0

    def __repr__(self) -> str:
        return (
            f"RemoteWindowSetup(grid={self.config.grid_url!r}, cookies=<{len(self.cookies)} hidden>, "
            f"tenant_url={self.tenant_url!r})"
        )


@dataclass(frozen=True)
class WindowOpened:
    """How opening a window ended: verified or not, its report, and why not."""

    ok: bool
    report: WindowReport
    reason: str = ""
    driver_fault: bool = False  # the driver cannot drive this browser: a set-up error, not a sign-in one


class WindowSource(Protocol):
    """A worker's window: opened (verified, remediated) once per worker process, then used for every task."""

    @property
    def session(self) -> BrowserSession | None:
        """The verified window's browser session (None before `open` or after `close`)."""
        ...

    def open(self) -> WindowOpened:
        """Start and verify the window; never raises a `CoupadlError` (it ends up in the result)."""
        ...

    def activate(self) -> None:
        """The window is the worker's now: move its states to in use."""
        ...

    def cancel(self) -> None:
        """Refuse every later browser start (the worker is going away)."""
        ...

    def close(self) -> None:
        """Quit the browser (or end the remote session)."""
        ...

    def cleanup(self, browser_pids: list[int]) -> None:
        """After `close` and once `browser_pids` are gone: remove what the window left on this machine."""
        ...


def prepare_profile(spec: WorkerSpec, clone_slots: Any) -> tuple[WorkerProfile, ProfileManager | None]:
    """The window's profile: the base itself, or a clone made here from the run's snapshot.

    Returns (profile, the manager that made the clone: VM-003, re-cloning and cleanup; None for the base).
    """
    if spec.profile_type is ProfileType.BASE:
        profile = WorkerProfile(spec.worker_id, ProfileType.BASE, spec.base_profile_path, spec.profile_name)
        profile.transition(ProfileState.READY)
        return profile, None
    manager = ProfileManager.attach_snapshot(clone_slots=clone_slots, **spec.profile_setup)
    return manager.create_worker_profile(spec.worker_id), manager


class LocalWindowSource:
    """A browser on this machine, on the base or on a clone (see the module docstring)."""

    def __init__(self, spec: WorkerSpec, clone_slots: Any) -> None:
        self.spec = spec
        self.clone_slots = clone_slots
        self.window: VerifiedWindow | None = None
        self.manager: ProfileManager | None = None
        self._cancelled = False
        self.log = get_logger("coupadl.worker")

    @property
    def session(self) -> BrowserSession | None:
        """The window's browser session."""
        return self.window.session if self.window is not None else None

    def open(self) -> WindowOpened:
        """Make the profile (clone) and open the verified window on it."""
        from coupadl.browser.window import VerifiedWindow

        spec = self.spec
        try:
            profile, self.manager = prepare_profile(spec, self.clone_slots)
        except CoupadlError as exc:
            return WindowOpened(False, _bare_report(spec, str(exc)), str(exc))
        self.window = VerifiedWindow(
            profile,
            spec.launch,
            spec.verification,
            self.manager,
            spec.download_dir,
            budget_s=spec.window_budget_s,
        )
        if self._cancelled:
            self.window.cancel()
        if spec.first_preload:
            first = spec.first_preload
            self.window.after_start = lambda session: session.preload(first)
        driver_fault = False
        try:
            ok = self.window.open()
        except CoupadlError as exc:  # no remediation helps: refused default dir, driver mismatch
            self.window.report.diagnosis = str(exc)
            driver_fault = isinstance(exc, DriverError)
            ok = False
        report = self.window.report
        return WindowOpened(ok, report, "" if ok else report.diagnosis or "not verified", driver_fault)

    def activate(self) -> None:
        """Profile and session in use."""
        assert self.window is not None and self.window.session is not None
        self.window.profile.transition(ProfileState.IN_USE)
        self.window.session.transition(SessionState.ACTIVE)

    def cancel(self) -> None:
        """No browser starts after this."""
        self._cancelled = True
        if self.window is not None:
            self.window.cancel()

    def close(self) -> None:
        """Quit the browser cleanly (cookies flushed)."""
        if self.window is not None:
            self.window.close()

    def cleanup(self, browser_pids: list[int]) -> None:
        """Remove the clone (the base is left as it is)."""
        if self.manager is None or self.window is None:
            return
        try:
            removed = self.manager.cleanup_profile(self.window.profile, browser_pids=browser_pids)
        except (CoupadlError, OSError, ValueError) as exc:
            removed = False
            self.log.warning("clone cleanup failed", error=str(exc))
        if not removed:
            self.log.warning("clone left for the next sweep", path=str(self.window.profile.profile_path))


_STEP_ACTIONS = {"recarry": RemediationAction.RECARRY, "new_session": RemediationAction.NEW_SESSION}


class RemoteWindowSource:
    """A session on a Selenium Grid node, signed in with the carried cookies (see the module docstring)."""

    def __init__(self, spec: WorkerSpec, setup: RemoteWindowSetup) -> None:
        self.spec = spec
        self.setup = setup
        self._session: BrowserSession | None = None
        self._cancelled = False
        self.log = get_logger("coupadl.worker")

    @property
    def session(self) -> BrowserSession | None:
        """The remote session."""
        return self._session

    def _report(self) -> WindowReport:
        return WindowReport(self.spec.worker_id, ProfileType.REMOTE, Path())

    def open(self) -> WindowOpened:
        """Start a session, carry the cookies, verify; remediate (cookies again + reload, new session)."""
        from coupadl.browser.remote import RemoteWindowNotVerified, open_remote_window
        from coupadl.grid.client import GridClient
        from coupadl.grid.registry import SessionRegistry

        spec, setup = self.spec, self.setup
        report = self._report()
        if self._cancelled:
            return WindowOpened(False, report, "the window is being closed")
        registry = SessionRegistry(setup.state_dir, owner_pid=spec.supervisor_pid)
        try:
            with GridClient(setup.config.grid_url) as client:
                if not self._wait_for_slot(client):
                    reason = (
                        f"no free slot on the Grid {setup.config.grid_url} within {setup.slot_wait_s:.0f} s "
                        "(its other windows hold them all)"
                    )
                    report.diagnosis = reason
                    return WindowOpened(False, report, reason)
                window = open_remote_window(
                    setup.config,
                    list(setup.cookies),
                    setup.tenant_url,
                    spec.verification,
                    spec.worker_id,
                    spec.download_dir,
                    client=client,
                    registry=registry,
                    max_sessions=setup.max_sessions,
                )
        except RemoteWindowNotVerified as exc:
            report.verification = exc.last
            report.remediations = _steps(exc.steps, exc.failures, exc.step_seconds, succeeded=False)
            report.diagnosis = str(exc)
            return WindowOpened(False, report, str(exc))
        except CoupadlError as exc:  # the Grid started no browser (no slot left, node gone)
            report.diagnosis = str(exc)
            return WindowOpened(False, report, str(exc))
        session = window.session
        if self._cancelled:  # closed while the session was starting: end it now
            session.quit()
            return WindowOpened(False, report, "the window is being closed")
        self._session = session
        facts = session.facts
        report.profile_path = Path(facts.user_data_dir)
        report.verification = window.verification
        report.remediations = _steps(window.steps, window.failures, window.step_seconds, succeeded=True)
        report.remote = {
            "session_id": facts.session_id,
            "node": facts.node_uri,
            "browser": facts.browser_name,
            "browser_version": facts.browser_version,
            "cookies_set_by": window.carried_by,
        }
        session.transition(SessionState.AUTHENTICATED)
        self.log.info("window ready", verified=True, node=facts.node_uri, steps=window.steps)
        return WindowOpened(True, report)

    def _wait_for_slot(self, client: GridClient) -> bool:
        """Wait (up to `slot_wait_s`) until the Grid has a free slot for the run's browser.

        A full Grid queues a new-session request instead of refusing it, and a queued request outlives a
        worker that gives up on it (the Grid would start that session later, for nobody). So a window asks
        only once a slot is free: at the start (the run claimed its slots), and after a restart (its node
        gone: a slot on another node, when one frees up).
        """
        browser = (
            "MicrosoftEdge" if self.setup.config.launch.executables.browser is BrowserKind.EDGE else "chrome"
        )
        deadline = time.monotonic() + self.setup.slot_wait_s
        while not self._cancelled:
            if client.free_slots(browser) > 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(1.0)
        return False

    def activate(self) -> None:
        """Session in use."""
        assert self._session is not None
        self._session.transition(SessionState.ACTIVE)

    def cancel(self) -> None:
        """No session starts after this (one starting now is ended as soon as it is there)."""
        self._cancelled = True

    def close(self) -> None:
        """End the session on the Grid (and forget it in the registry)."""
        session, self._session = self._session, None
        if session is not None:
            session.quit()

    def cleanup(self, browser_pids: list[int]) -> None:
        """Nothing of a remote window is on this machine but its staging folder, which the run removes."""


def _steps(
    steps: list[str], failures: list[str], seconds: list[float], *, succeeded: bool
) -> list[RemediationStep]:
    """`open_remote_window`'s steps as report entries: each failed but (when `succeeded`) the last; the
    detail of a step is the failure that led to it."""
    out = []
    for index, name in enumerate(steps):
        last = index == len(steps) - 1
        ok = succeeded and last
        detail = "verified" if ok else (failures[index + 1] if index + 1 < len(failures) else "not verified")
        duration = seconds[index] if index < len(seconds) else 0.0
        out.append(RemediationStep(_STEP_ACTIONS.get(name, RemediationAction.RESTART), ok, duration, detail))
    return out


def window_source(spec: WorkerSpec, clone_slots: Any) -> WindowSource:
    """The source `spec` asks for: remote when it carries a `RemoteWindowSetup`, else local."""
    if spec.remote is not None:
        return RemoteWindowSource(spec, spec.remote)
    return LocalWindowSource(spec, clone_slots)


def _bare_report(spec: WorkerSpec, diagnosis: str) -> WindowReport:
    """The report of a window that never got as far as a browser."""
    path = spec.base_profile_path if spec.profile_type is ProfileType.BASE else Path()
    return WindowReport(spec.worker_id, spec.profile_type, path, diagnosis=diagnosis)
