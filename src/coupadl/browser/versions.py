"""Browser and driver versions, read without starting a browser window.

On Windows `msedge.exe --version` prints nothing (and `chrome.exe --version` may open a window), so the
version is read from the versioned application folder next to the executable (`Application\\131.0.2903.86\\`)
or from the registry (`BLBeacon`). On macOS it is the app bundle's `Info.plist`. Elsewhere (Linux) the
browser's `--version` prints it and exits. Drivers always answer `--version` without opening anything.
"""

from __future__ import annotations

import plistlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from coupadl.choices import BrowserKind

__all__ = [
    "Version",
    "browser_version",
    "macos_bundle_version",
    "probe_version",
    "windows_application_version",
    "windows_registry_version",
]

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?")
_FOLDER = re.compile(r"\d+\.\d+\.\d+\.\d+")
# The DLL a versioned application folder holds (Edge: msedge.dll; Chrome and Chromium: chrome.dll).
_BROWSER_DLLS = ("msedge.dll", "chrome.dll")
_BLBEACON = {
    BrowserKind.EDGE: r"Software\Microsoft\Edge\BLBeacon",
    BrowserKind.CHROME: r"Software\Google\Chrome\BLBeacon",
    BrowserKind.CHROMIUM: r"Software\Chromium\BLBeacon",
}


@dataclass(frozen=True, order=True)
class Version:
    """A dotted version such as 131.0.2903.86 (compared part by part)."""

    parts: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """The first `a.b.c[.d]` in `text`, or None."""
        match = _VERSION.search(text)
        if not match:
            return None
        return cls(tuple(int(p) for p in match.groups() if p is not None))

    @property
    def major(self) -> int:
        """The major version, which the driver and the browser must share."""
        return self.parts[0]

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)


def windows_application_version(binary: Path) -> Version | None:
    """The newest versioned folder beside `binary` (msedge.exe / chrome.exe) that holds the browser's DLL.

    Folders without the DLL (an interrupted update) count only when no folder has it.
    """
    try:
        folders = [d for d in binary.parent.iterdir() if d.is_dir() and _FOLDER.fullmatch(d.name)]
    except OSError:
        return None
    complete = [d for d in folders if any((d / dll).is_file() for dll in _BROWSER_DLLS)]
    versions = [v for d in (complete or folders) if (v := Version.parse(d.name)) is not None]
    return max(versions, default=None)


def windows_registry_version(kind: BrowserKind) -> Version | None:
    """The `version` value of the browser's `BLBeacon` key (per user first, then per machine)."""
    if sys.platform != "win32":
        return None
    import winreg

    for hive in (winreg.HKEY_CURRENT_USER, winreg.HKEY_LOCAL_MACHINE):
        try:
            with winreg.OpenKey(hive, _BLBEACON[kind]) as key:
                value, _kind = winreg.QueryValueEx(key, "version")
        except OSError:
            continue
        version = Version.parse(str(value))
        if version is not None:
            return version
    return None


def macos_bundle_version(binary: Path) -> Version | None:
    """`CFBundleShortVersionString` of the app bundle `binary` lives in (`X.app/Contents/MacOS/X`)."""
    plist = binary.parent.parent / "Info.plist"
    try:
        with plist.open("rb") as fh:
            data = plistlib.load(fh)
    except (OSError, plistlib.InvalidFileException, ValueError):
        return None
    value = data.get("CFBundleShortVersionString") if isinstance(data, dict) else None
    return Version.parse(str(value)) if value else None


def probe_version(executable: Path, timeout: float = 15.0) -> Version | None:
    """The version `executable --version` prints (a driver, or a browser on Linux), or None."""
    try:
        out = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=timeout, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Version.parse(out)


def browser_version(kind: BrowserKind, binary: Path, platform: str = sys.platform) -> Version | None:
    """The installed browser's version, read without opening a window; None when it cannot be told."""
    if platform == "win32":
        return windows_application_version(binary) or windows_registry_version(kind)
    if platform == "darwin":
        return macos_bundle_version(binary) or probe_version(binary)
    return probe_version(binary)
