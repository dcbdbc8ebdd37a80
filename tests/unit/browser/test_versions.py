"""Browser versions read without starting the browser: Windows application folders, macOS bundles."""

import plistlib
from pathlib import Path

import pytest

from coupadl.browser.versions import (
    Version,
    browser_version,
    macos_bundle_version,
    windows_application_version,
)
from coupadl.settings import BrowserKind


def _edge_install(root: Path, folders: dict[str, bool]) -> Path:
    """A fake `...\\Microsoft\\Edge\\Application` folder: msedge.exe and versioned folders (with msedge.dll
    when True), as Edge's installer leaves them."""
    app = root / "Microsoft" / "Edge" / "Application"
    app.mkdir(parents=True)
    exe = app / "msedge.exe"
    exe.write_bytes(b"MZ not a real browser")
    for name, complete in folders.items():
        (app / name / "Installer").mkdir(parents=True)
        if complete:
            (app / name / "msedge.dll").write_bytes(b"MZ")
    (app / "SetupMetrics").mkdir()
    (app / "msedge.VisualElementsManifest.xml").write_text("<Application/>")
    return exe


def test_windows_edge_version_from_its_application_folder(tmp_path: Path) -> None:
    exe = _edge_install(tmp_path, {"131.0.2903.86": True})
    assert windows_application_version(exe) == Version((131, 0, 2903, 86))
    assert browser_version(BrowserKind.EDGE, exe, platform="win32") == Version((131, 0, 2903, 86))


def test_during_an_update_the_newest_complete_folder_wins(tmp_path: Path) -> None:
    # 9.x < 10.x numerically (not as text); 132 has no DLL yet (the update is still unpacking).
    exe = _edge_install(tmp_path, {"131.0.2903.86": True, "131.0.2903.112": True, "132.0.2957.11": False})
    assert str(windows_application_version(exe)) == "131.0.2903.112"


def test_chrome_folder_holds_chrome_dll(tmp_path: Path) -> None:
    app = tmp_path / "Google" / "Chrome" / "Application"
    (app / "131.0.6778.86").mkdir(parents=True)
    (app / "131.0.6778.86" / "chrome.dll").write_bytes(b"MZ")
    (app / "chrome.exe").write_bytes(b"MZ")
    version = windows_application_version(app / "chrome.exe")
    assert version is not None and version.major == 131


def test_no_versioned_folder_means_unknown_without_running_anything(tmp_path: Path) -> None:
    exe = tmp_path / "msedge.exe"
    exe.write_bytes(b"MZ")
    assert windows_application_version(exe) is None
    # On a non-Windows machine the registry is never consulted: still unknown, and msedge.exe is not run.
    if not hasattr(__import__("sys"), "getwindowsversion"):
        assert browser_version(BrowserKind.EDGE, exe, platform="win32") is None


def test_macos_version_from_the_app_bundle(tmp_path: Path) -> None:
    contents = tmp_path / "Microsoft Edge.app" / "Contents"
    (contents / "MacOS").mkdir(parents=True)
    binary = contents / "MacOS" / "Microsoft Edge"
    binary.write_bytes(b"\xcf\xfa\xed\xfe not runnable")
    with (contents / "Info.plist").open("wb") as fh:
        plistlib.dump({"CFBundleShortVersionString": "131.0.2903.86"}, fh)
    assert macos_bundle_version(binary) == Version((131, 0, 2903, 86))
    assert browser_version(BrowserKind.EDGE, binary, platform="darwin") == Version((131, 0, 2903, 86))


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ("Chromium 156.0.8078.114 built on Debian GNU/Linux 12 (bookworm)", 156),
        ("ChromeDriver 156.0.8078.114 (ea19f97-refs/branch-heads/8078_108@{#5})", 156),
        ("Microsoft Edge WebDriver 131.0.2903.86 (c2e7a3...)", 131),
        ("no version here", None),
    ],
)
def test_version_parse(text: str, major: int | None) -> None:
    version = Version.parse(text)
    assert (version.major if version else None) == major
