"""Selenium Grid as a window source: the `--grid` address check, an HTTP client for the Grid's status and
sessions, and the registry of the run's remote sessions under the output folder.

This package speaks HTTP only (httpx) and knows nothing of browsers or profiles: `coupadl.browser.remote`
starts the Remote WebDriver sessions and uses it.
"""

from coupadl.grid.address import check_grid_url, is_loopback_host
from coupadl.grid.client import GridClient, GridNodeInfo, GridSlot, GridStatus
from coupadl.grid.registry import RemoteSessionRecord, SessionRegistry, clean_stale_sessions

__all__ = [
    "GridClient",
    "GridNodeInfo",
    "GridSlot",
    "GridStatus",
    "RemoteSessionRecord",
    "SessionRegistry",
    "check_grid_url",
    "clean_stale_sessions",
    "is_loopback_host",
]
