"""`coupadl driver`: the driver matching the installed browser, into coupadl's cache (after each update).

The only command that downloads anything (with the Selenium Manager shipped in the selenium package, through
the system proxy); `run` and `check` then find the driver in the cache offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coupadl.browser.discovery import find_browser
from coupadl.browser.drivers import driver_cache_dir, fetch_driver, find_cached_driver, system_proxy
from coupadl.browser.versions import Version, browser_version, probe_version
from coupadl.errors import DriverMismatchError
from coupadl.settings import Settings

__all__ = ["DriverSetup", "set_up_driver"]


@dataclass(frozen=True)
class DriverSetup:
    """What `coupadl driver` did: the browser it matched and where the driver is."""

    browser: str
    binary: Path
    browser_version: Version | None
    driver: Path
    driver_version: Version | None
    already_cached: bool

    def describe(self) -> str:
        """One line for the operator."""
        shown = f"{self.browser} {self.browser_version}" if self.browser_version else self.browser
        state = "already in coupadl's cache" if self.already_cached else "fetched into coupadl's cache"
        version = f" {self.driver_version}" if self.driver_version else ""
        return (
            f"{self.driver.name}{version} for {shown} ({self.binary}) {state}: {self.driver}; "
            "`coupadl run` and `coupadl check` use it from there"
        )


def set_up_driver(settings: Settings, *, cache: Path | None = None, refresh: bool = False) -> DriverSetup:
    """Make sure coupadl's cache holds the driver for the installed browser; fetch it when missing.

    Raises:
        BrowserNotFoundError: no such browser installed (nothing is fetched then: never a browser).
        DriverDownloadError: Selenium Manager could not get it (one line with its reason).
        DriverMismatchError: what it got does not match the browser.
    """
    cache = driver_cache_dir() if cache is None else cache
    kind = settings.browser
    binary = find_browser(kind, settings.browser_binary)
    version = browser_version(kind, binary)
    cached = None if refresh else find_cached_driver(kind, version.major if version else None, cache)
    if cached is not None and version is not None:
        return DriverSetup(kind.value, binary, version, cached.path, cached.version, already_cached=True)
    path = fetch_driver(kind, binary, version, cache=cache, proxy=system_proxy())
    driver_version = probe_version(path)
    if version and driver_version and version.major != driver_version.major:
        raise DriverMismatchError(
            f"Selenium Manager gave {path.name} {driver_version} for {kind.value} {version}: "
            f"give a matching driver with --driver PATH"
        )
    return DriverSetup(kind.value, binary, version, path, driver_version, already_cached=False)
