"""coupadl's own driver cache, and filling it with the Selenium Manager shipped in the selenium package.

`coupadl driver` is the only thing that ever downloads: it asks Selenium Manager for the driver matching the
installed browser (never a browser: `--avoid-browser-download`), into `driver_cache_dir()`, through the
system proxy. Runs then find the driver there offline (see `discovery.find_executables`).
Selenium Manager's layout of the cache: `<cache>/<driver>/<platform>/<version>/<driver>[.exe]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from coupadl.browser.versions import Version
from coupadl.choices import BrowserKind
from coupadl.errors import DriverDownloadError

__all__ = [
    "DRIVER_NAMES",
    "CachedDriver",
    "cached_drivers",
    "driver_cache_dir",
    "driver_file_name",
    "fetch_driver",
    "find_cached_driver",
    "selenium_manager_binary",
    "system_proxy",
]

DRIVER_NAMES = {
    BrowserKind.EDGE: "msedgedriver",
    BrowserKind.CHROME: "chromedriver",
    BrowserKind.CHROMIUM: "chromedriver",
}
# Selenium Manager's browser names (Chromium's driver is chromedriver, resolved like Chrome's).
_MANAGER_BROWSER = {BrowserKind.EDGE: "edge", BrowserKind.CHROME: "chrome", BrowserKind.CHROMIUM: "chrome"}
_RUN_TIMEOUT_S = 600.0
_NETWORK_TIMEOUT_S = 60


@dataclass(frozen=True)
class CachedDriver:
    """A driver in coupadl's cache and the version its folder names."""

    path: Path
    version: Version


def driver_cache_dir() -> Path:
    """Where `coupadl driver` puts drivers: `drivers` in coupadl's per-user data folder."""
    return Path(platformdirs.user_data_dir("coupadl")) / "drivers"


def driver_file_name(kind: BrowserKind, platform: str = sys.platform) -> str:
    """`msedgedriver.exe` / `chromedriver` ..."""
    return DRIVER_NAMES[kind] + (".exe" if platform == "win32" else "")


def cached_drivers(kind: BrowserKind, cache: Path | None = None) -> list[CachedDriver]:
    """Every usable driver for `kind` in the cache, newest first."""
    cache = driver_cache_dir() if cache is None else cache
    name = driver_file_name(kind)
    found = []
    for path in cache.glob(f"{DRIVER_NAMES[kind]}/*/*/{name}"):
        version = Version.parse(path.parent.name)
        if version is not None and path.is_file() and os.access(path, os.X_OK):
            found.append(CachedDriver(path, version))
    return sorted(found, key=lambda d: d.version, reverse=True)


def find_cached_driver(
    kind: BrowserKind, browser_major: int | None, cache: Path | None = None
) -> CachedDriver | None:
    """The newest cached driver of the browser's major version (the newest of all when it is unknown)."""
    for driver in cached_drivers(kind, cache):
        if browser_major is None or driver.version.major == browser_major:
            return driver
    return None


def selenium_manager_binary() -> Path:
    """The Selenium Manager executable shipped in the installed selenium package."""
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    from coupadl.browser.translate import SeleniumError  # Selenium only for `coupadl driver`

    try:
        return Path(SeleniumManager._get_binary())
    except SeleniumError as exc:
        raise DriverDownloadError(
            f"the selenium package has no Selenium Manager for this platform: {exc.msg}"
        ) from None


def system_proxy() -> str | None:
    """The HTTPS (else HTTP) proxy of the system: environment variables, the Windows registry or the macOS
    network settings, as Python's `urllib.request.getproxies` finds them."""
    proxies = urllib.request.getproxies()
    return proxies.get("https") or proxies.get("http") or None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def fetch_driver(
    kind: BrowserKind,
    binary: Path,
    browser_version: Version | None,
    *,
    cache: Path | None = None,
    proxy: str | None = None,
    manager: Path | None = None,
) -> Path:
    """Have Selenium Manager put the driver matching the browser at `binary` into the cache; its path.

    Never downloads a browser, never takes a driver from PATH, sends no usage statistics.

    Raises:
        DriverDownloadError: in one line, with Selenium Manager's own reason (no network, proxy refused ...).
    """
    cache = driver_cache_dir() if cache is None else cache
    manager = selenium_manager_binary() if manager is None else manager
    args = [
        str(manager),
        "--browser", _MANAGER_BROWSER[kind],
        "--browser-path", str(binary),
        "--cache-path", str(cache),
        "--skip-driver-in-path",
        "--avoid-browser-download",
        "--avoid-stats",
        "--timeout", str(_NETWORK_TIMEOUT_S),
        "--language-binding", "python",
        "--output", "json",
    ]  # fmt: skip
    if browser_version is not None:
        args += ["--browser-version", str(browser_version.major)]
    if proxy:
        args += ["--proxy", proxy]
    try:
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(args, capture_output=True, text=True, timeout=_RUN_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise DriverDownloadError(f"Selenium Manager did not finish in {_RUN_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise DriverDownloadError(f"cannot run Selenium Manager {manager}: {exc.strerror or exc}") from None
    try:
        result = json.loads(done.stdout)["result"]
    except (ValueError, KeyError, TypeError):
        reason = _first_line(done.stderr) or _first_line(done.stdout) or f"exit code {done.returncode}"
        raise DriverDownloadError(f"Selenium Manager failed: {reason}") from None
    message = _first_line(str(result.get("message", "")))
    path = Path(str(result.get("driver_path") or ""))
    if done.returncode != 0 or int(result.get("code", 1)) != 0 or not str(path) or not path.is_file():
        via = f"through the proxy {proxy}" if proxy else "no proxy set: is this machine online?"
        raise DriverDownloadError(
            f"Selenium Manager could not get the {DRIVER_NAMES[kind]} ({via}): {message}"
        )
    return path
