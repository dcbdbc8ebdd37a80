"""Find the browser and driver executables and check that they match, without opening a window.

Browser: the given path, else a standard install place, else PATH. Driver: `--driver PATH` > coupadl's own
cache (filled by `coupadl driver`) > PATH > standard places. The driver is always found here and handed to
Selenium explicitly, so Selenium Manager never runs and nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from coupadl.browser.drivers import DRIVER_NAMES, find_cached_driver
from coupadl.browser.versions import Version, browser_version, probe_version
from coupadl.choices import BrowserKind
from coupadl.errors import BrowserNotFoundError, DriverMismatchError, DriverStartError

__all__ = [
    "DriverOrigin",
    "Executables",
    "browser_candidates",
    "driver_candidates",
    "find_browser",
    "find_driver",
    "find_executables",
    "major_version",
]

_PATH_NAMES = {
    BrowserKind.EDGE: ("msedge", "microsoft-edge", "microsoft-edge-stable"),
    BrowserKind.CHROME: ("chrome", "google-chrome", "google-chrome-stable"),
    BrowserKind.CHROMIUM: ("chromium", "chromium-browser"),
}


class DriverOrigin(StrEnum):
    """Where the driver was found, in the order it is looked for."""

    GIVEN = "--driver"
    CACHE = "coupadl's driver cache"
    PATH = "PATH"
    STANDARD = "standard place"


@dataclass(frozen=True)
class Executables:
    """The browser binary and its matching driver (versions as read, empty when unknown)."""

    browser: BrowserKind
    binary: Path
    driver: Path
    driver_origin: DriverOrigin = DriverOrigin.GIVEN
    browser_version: str = ""
    driver_version: str = ""


def browser_candidates(
    kind: BrowserKind, platform: str = sys.platform, env: dict[str, str] | None = None
) -> list[Path]:
    """Standard install places of `kind` on `platform`, most likely first (PATH is searched separately)."""
    env = dict(os.environ) if env is None else env
    if platform == "win32":
        roots = [env.get(k) for k in ("PROGRAMFILES(X86)", "PROGRAMFILES", "LOCALAPPDATA")]
        rel = {
            BrowserKind.EDGE: r"Microsoft\Edge\Application\msedge.exe",
            BrowserKind.CHROME: r"Google\Chrome\Application\chrome.exe",
            BrowserKind.CHROMIUM: r"Chromium\Application\chrome.exe",
        }[kind]
        return [Path(root) / rel for root in roots if root]
    if platform == "darwin":
        app = {
            BrowserKind.EDGE: "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
            BrowserKind.CHROME: "Google Chrome.app/Contents/MacOS/Google Chrome",
            BrowserKind.CHROMIUM: "Chromium.app/Contents/MacOS/Chromium",
        }[kind]
        home = env.get("HOME", "~")
        return [Path("/Applications") / app, Path(home) / "Applications" / app]
    return {
        BrowserKind.EDGE: [Path("/usr/bin/microsoft-edge"), Path("/opt/microsoft/msedge/msedge")],
        BrowserKind.CHROME: [Path("/usr/bin/google-chrome"), Path("/opt/google/chrome/chrome")],
        BrowserKind.CHROMIUM: [Path("/usr/bin/chromium"), Path("/usr/bin/chromium-browser")],
    }[kind]


def driver_candidates(
    kind: BrowserKind, platform: str = sys.platform, env: dict[str, str] | None = None
) -> list[Path]:
    """Standard places of the driver for `kind` (PATH is searched separately)."""
    env = dict(os.environ) if env is None else env
    name = DRIVER_NAMES[kind] + (".exe" if platform == "win32" else "")
    places: list[Path] = []
    if platform == "win32" and kind is BrowserKind.EDGE:
        places += [
            Path(r) / r"Microsoft\Edge\Application" / name
            for r in (env.get("PROGRAMFILES(X86)"), env.get("PROGRAMFILES"))
            if r
        ]
    if platform not in ("win32", "darwin"):
        places.append(Path("/usr/bin") / name)
    places.append(Path("/usr/local/bin") / name)
    return places


def _first_existing(paths: list[Path], names: tuple[str, ...]) -> Path | None:
    for path in paths:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _on_path(names: tuple[str, ...]) -> Path | None:
    return next((Path(found) for name in names if (found := shutil.which(name))), None)


def _in_standard_place(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.is_file() and os.access(p, os.X_OK)), None)


def major_version(executable: Path) -> int | None:
    """Major version printed by `executable --version` (a driver); None when it prints none."""
    version = probe_version(executable)
    return version.major if version else None


def find_browser(kind: BrowserKind, binary: Path | None = None) -> Path:
    """The browser executable: `binary` when given, else a standard install place, else PATH."""
    if binary is not None:
        if not binary.is_file():
            raise BrowserNotFoundError(f"--browser-binary {binary} does not exist")
        return binary
    found = _first_existing(browser_candidates(kind), _PATH_NAMES[kind])
    if found is None:
        others = [
            k.value
            for k in BrowserKind
            if k is not kind and _first_existing(browser_candidates(k), _PATH_NAMES[k])
        ]
        hint = f"; found {', '.join(others)}: try --browser {others[0]}" if others else ""
        raise BrowserNotFoundError(f"no {kind.value} browser found (give --browser-binary PATH){hint}")
    return found


def find_driver(
    kind: BrowserKind, browser_major: int | None, driver: Path | None = None, cache: Path | None = None
) -> tuple[Path, DriverOrigin, Version | None]:
    """The driver: `driver` when given > coupadl's cache (the browser's major version) > PATH > standard
    places. Returns (path, where it was found, its version when the cache folder names it)."""
    if driver is not None:
        if not driver.is_file():
            raise BrowserNotFoundError(f"--driver {driver} does not exist")
        return driver, DriverOrigin.GIVEN, None
    cached = find_cached_driver(kind, browser_major, cache)
    if cached is not None:
        return cached.path, DriverOrigin.CACHE, cached.version
    name = DRIVER_NAMES[kind]
    on_path = _on_path((name,))
    if on_path is not None:
        return on_path, DriverOrigin.PATH, None
    standard = _in_standard_place(driver_candidates(kind))
    if standard is not None:
        return standard, DriverOrigin.STANDARD, None
    wanted = f" {browser_major}" if browser_major else ""
    raise BrowserNotFoundError(
        f"no {name}{wanted} found: run `coupadl driver` to fetch the one matching your {kind.value}, "
        "or give --driver PATH"
    )


def find_executables(
    kind: BrowserKind,
    binary: Path | None = None,
    driver: Path | None = None,
    *,
    check_versions: bool = True,
    cache: Path | None = None,
) -> Executables:
    """Resolve the browser and driver, or raise `BrowserNotFoundError` / `DriverMismatchError` in one line.

    Nothing is downloaded: a missing or mismatched driver is an error that names `coupadl driver`. The
    browser's version is read without opening a window (see `versions.browser_version`).
    """
    found_binary = find_browser(kind, binary)
    browser = browser_version(kind, found_binary) if check_versions else None
    found_driver, origin, driver_ver = find_driver(kind, browser.major if browser else None, driver, cache)
    if check_versions:
        driver_ver = driver_ver or probe_version(found_driver)
        if driver_ver is None and origin is not DriverOrigin.CACHE:
            raise DriverStartError(
                f"{found_driver} does not answer --version (not a driver, not executable, or blocked): "
                "run `coupadl driver`, or give --driver PATH"
            )
        if browser and driver_ver and browser.major != driver_ver.major:
            raise DriverMismatchError(
                f"{found_driver.name} {driver_ver.major} ({origin.value}: {found_driver}) does not match "
                f"{kind.value} {browser.major}: run `coupadl driver` to fetch {found_driver.name} "
                f"{browser.major}, or give --driver PATH"
            )
    return Executables(
        kind,
        found_binary,
        found_driver,
        driver_origin=origin,
        browser_version=str(browser) if browser else "",
        driver_version=str(driver_ver) if driver_ver else "",
    )
