"""Where browsers and drivers are looked for on each OS, and refusal when none is there."""

from pathlib import Path, PureWindowsPath

import pytest

from coupadl.browser.discovery import browser_candidates, driver_candidates, find_executables
from coupadl.errors import BrowserNotFoundError
from coupadl.settings import BrowserKind


def test_windows_edge_lives_under_microsoft_edge_application() -> None:
    env = {"PROGRAMFILES(X86)": r"C:\Program Files (x86)", "PROGRAMFILES": r"C:\Program Files"}
    paths = [PureWindowsPath(str(p)) for p in browser_candidates(BrowserKind.EDGE, "win32", env)]
    assert PureWindowsPath(r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe") in paths


def test_macos_chrome_app_bundle() -> None:
    paths = browser_candidates(BrowserKind.CHROME, "darwin", {"HOME": "/Users/op"})
    assert Path("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome") in paths


def test_debian_chromium_and_its_driver() -> None:
    assert Path("/usr/bin/chromium") in browser_candidates(BrowserKind.CHROMIUM, "linux", {})
    assert Path("/usr/bin/chromedriver") in driver_candidates(BrowserKind.CHROMIUM, "linux", {})


def test_windows_edge_driver_name() -> None:
    env = {"PROGRAMFILES": r"C:\Program Files"}
    assert all(str(p).endswith("msedgedriver.exe") for p in driver_candidates(BrowserKind.EDGE, "win32", env))


def test_a_given_path_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BrowserNotFoundError, match="does not exist"):
        find_executables(BrowserKind.CHROMIUM, binary=tmp_path / "nope")
    with pytest.raises(BrowserNotFoundError, match="--driver"):
        find_executables(BrowserKind.CHROMIUM, driver=tmp_path / "nope")
