"""Find the browser and driver executables: given paths first, then standard install places, then PATH.

The driver is always found here and handed to Selenium explicitly, so Selenium Manager never runs and nothing
is downloaded at run time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from coupadl.errors import BrowserNotFoundError, DriverMismatchError
from coupadl.settings import BrowserKind

__all__ = ["Executables", "browser_candidates", "driver_candidates", "find_executables", "major_version"]

_DRIVER_NAMES = {
    BrowserKind.EDGE: ("msedgedriver",),
    BrowserKind.CHROME: ("chromedriver",),
    BrowserKind.CHROMIUM: ("chromedriver",),
}
_PATH_NAMES = {
    BrowserKind.EDGE: ("msedge", "microsoft-edge", "microsoft-edge-stable"),
    BrowserKind.CHROME: ("chrome", "google-chrome", "google-chrome-stable"),
    BrowserKind.CHROMIUM: ("chromium", "chromium-browser"),
}


@dataclass(frozen=True)
class Executables:
    """The browser binary and its matching driver."""

    browser: BrowserKind
    binary: Path
    driver: Path


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
    name = _DRIVER_NAMES[kind][0] + (".exe" if platform == "win32" else "")
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


def major_version(executable: Path) -> int | None:
    """Major version printed by `executable --version`; None when it prints none (msedge on Windows)."""
    try:
        out = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=15, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)\.\d+\.\d+", out)
    return int(match.group(1)) if match else None


def find_executables(
    kind: BrowserKind, binary: Path | None = None, driver: Path | None = None, *, check_versions: bool = True
) -> Executables:
    """Resolve the browser and driver, or raise `BrowserNotFoundError` / `DriverMismatchError` in one line."""
    if binary is not None and not binary.is_file():
        raise BrowserNotFoundError(f"--browser-binary {binary} does not exist")
    if driver is not None and not driver.is_file():
        raise BrowserNotFoundError(f"--driver {driver} does not exist")
    found_binary = binary or _first_existing(browser_candidates(kind), _PATH_NAMES[kind])
    if found_binary is None:
        others = [
            k.value
            for k in BrowserKind
            if k is not kind and _first_existing(browser_candidates(k), _PATH_NAMES[k])
        ]
        hint = f"; found {', '.join(others)}: try --browser {others[0]}" if others else ""
        raise BrowserNotFoundError(f"no {kind.value} browser found (give --browser-binary PATH){hint}")
    found_driver = driver or _first_existing(driver_candidates(kind), _DRIVER_NAMES[kind])
    if found_driver is None:
        name = _DRIVER_NAMES[kind][0]
        raise BrowserNotFoundError(
            f"no {name} found: install the {name} matching your {kind.value} version and give --driver PATH"
        )
    if check_versions:
        browser_major, driver_major = major_version(found_binary), major_version(found_driver)
        if browser_major and driver_major and browser_major != driver_major:
            raise DriverMismatchError(
                f"{found_driver.name} {driver_major} does not match {kind.value} {browser_major}: "
                f"install {found_driver.name} {browser_major} and give --driver PATH"
            )
    return Executables(kind, found_binary, found_driver)
