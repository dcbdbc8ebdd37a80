"""`--grid`: the start-up of a run whose windows are sessions on a Selenium Grid.

All of it happens before any window or PO starts, and any failure is a one-line `SetupError` (exit 2):

1. `plan_grid`: the address is checked (`check_grid_url`: plain http:// off loopback refused without
   `--grid-insecure`), the Grid must answer its status, the sessions a killed run left (recorded under
   `<out>/.coupadl/`) are deleted, and the windows are claimed: fewer free slots than `--workers` → run with
   what is free (the caller says so), none → `GridNoFreeSlotError`. Nothing is written under `--out` here.
2. `remote_setup`, after the base was checked and snapshotted as for local windows: the base's sign-in cookies
   are read once through a short local headless window on a throw-away copy of the snapshot, and held in
   memory only; they reach the workers inside their `WorkerSpec`, through the spawn pipe.

A run without `--grid` imports this module but none of the Grid's (nor httpx, nor Selenium): they are imported
by the steps above when they run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from coupadl.batch.progress import state_dir
from coupadl.browser.launcher import LaunchConfig
from coupadl.errors import CoupadlError
from coupadl.log import get_logger
from coupadl.pool.sources import RemoteWindowSetup
from coupadl.profiles import ProfileManager
from coupadl.profiles.snapshot import Snapshot
from coupadl.settings import BrowserKind, Settings

__all__ = ["GridPlan", "end_run_sessions", "grid_browser_name", "plan_grid", "remote_setup"]


@dataclass(frozen=True)
class GridPlan:
    """The Grid a run uses and how many windows it got there.

    Attributes:
        url: The Grid's address (checked, normalised).
        windows: Windows the run starts: `min(--workers, free slots)`, at least 1.
        asked: `--workers`.
        cleaned: Sessions of a killed earlier run that were deleted on the Grid now.
    """

    url: str
    windows: int
    asked: int
    cleaned: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        """What the operator is told when the Grid gives fewer windows than asked ('' otherwise)."""
        if self.windows >= self.asked:
            return ""
        return (
            f"the Grid {self.url} has {self.windows} free slot(s): running {self.windows} window(s) "
            f"instead of {self.asked}"
        )


def grid_browser_name(settings: Settings) -> str:
    """The WebDriver `browserName` the run's windows ask the Grid for."""
    return "MicrosoftEdge" if settings.browser is BrowserKind.EDGE else "chrome"


def plan_grid(settings: Settings, out: Path) -> GridPlan | None:
    """Step 1 of the module docstring; None without `--grid`.

    Raises:
        ConfigError: A bad or insecure Grid address.
        GridUnreachableError: The Grid does not answer as a Selenium Grid 4.
        GridNoFreeSlotError: No free slot for the run's browser.
    """
    if settings.grid is None:
        return None
    from coupadl.grid import GridClient, SessionRegistry, check_grid_url, clean_stale_sessions

    url = check_grid_url(settings.grid, allow_insecure=settings.grid_insecure)
    with GridClient(url) as client:
        client.status()
        cleaned = clean_stale_sessions(SessionRegistry(state_dir(out)), client)
        windows = client.claim_windows(settings.workers, grid_browser_name(settings))
    plan = GridPlan(url, windows, settings.workers, cleaned)
    get_logger("coupadl.grid").info(
        "grid.planned", grid=url, windows=windows, asked=settings.workers, cleaned=len(cleaned)
    )
    return plan


def remote_setup(
    settings: Settings, plan: GridPlan, launch: LaunchConfig, profiles: ProfileManager, out: Path
) -> RemoteWindowSetup:
    """Step 2 of the module docstring: the carried cookies and how remote windows start.

    Raises:
        CarriedCookiesError: The base's cookies could not be read, or none is for the tenant.
    """
    from coupadl.browser.carried import read_carried_cookies
    from coupadl.browser.remote import RemoteConfig

    tenant = settings.require_base_url()
    work_dir = profiles.run_directory or profiles.temp_directory
    cookies = read_carried_cookies(
        launch, Snapshot.load(profiles.snapshot_path), tenant, settings.grid_cookie_domains, work_dir
    )
    return RemoteWindowSetup(
        config=RemoteConfig(plan.url, launch),
        cookies=tuple(cookies),
        tenant_url=tenant,
        state_dir=state_dir(out),
    )


def end_run_sessions(plan: GridPlan, out: Path) -> list[str]:
    """After the pool closed: end on the Grid every session this run recorded and did not end itself (a
    worker stopped by PID while it quit its session, or whose node vanished mid-command), and forget them.

    Returns the ids the Grid still had. Never raises: whatever is left is deleted by the next start.
    """
    from coupadl.grid import GridClient, SessionRegistry

    registry = SessionRegistry(state_dir(out))
    mine = [r for r in registry.records() if r.owner_pid == os.getpid() and r.grid_url == plan.url]
    if not mine:
        return []
    ended: list[str] = []
    try:
        with GridClient(plan.url) as client:
            running = client.status().session_ids()
            for record in mine:
                if record.session_id in running and client.delete_session(record.session_id):
                    ended.append(record.session_id)
        registry.remove(*(r.session_id for r in mine))
    except (CoupadlError, OSError) as exc:
        get_logger("coupadl.grid").warning("grid.sessions_left", count=len(mine), error=str(exc))
    return ended
