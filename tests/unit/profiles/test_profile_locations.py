"""Default user-data-dirs per browser and OS, the --profile value, the temp root."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

import platformdirs
import pytest

from coupadl.errors import PermissionDeniedException
from coupadl.profiles.locations import (
    default_temp_root,
    default_user_data_dir,
    ensure_private_dir,
    is_default_user_data_dir,
    resolve_profile_dir,
    tool_profile_dir,
    which_default_user_data_dir,
)
from coupadl.settings import BrowserKind

WIN = {"LOCALAPPDATA": r"C:\Users\ana\AppData\Local", "USERPROFILE": r"C:\Users\ana"}


@pytest.mark.parametrize(
    ("browser", "expected"),
    [
        (BrowserKind.EDGE, r"C:\Users\ana\AppData\Local\Microsoft\Edge\User Data"),
        (BrowserKind.CHROME, r"C:\Users\ana\AppData\Local\Google\Chrome\User Data"),
        (BrowserKind.CHROMIUM, r"C:\Users\ana\AppData\Local\Chromium\User Data"),
    ],
)
def test_windows_defaults(browser: BrowserKind, expected: str) -> None:
    path = default_user_data_dir(browser, "win32", WIN)
    assert path == PureWindowsPath(expected)
    assert "Microsoft Edge" not in str(path)  # the earlier tool's bug


def test_windows_falls_back_to_userprofile() -> None:
    path = default_user_data_dir(BrowserKind.EDGE, "win32", {"USERPROFILE": r"C:\Users\bo"})
    assert path == PureWindowsPath(r"C:\Users\bo\AppData\Local\Microsoft\Edge\User Data")


@pytest.mark.parametrize(
    ("browser", "expected"),
    [
        (BrowserKind.EDGE, "/Users/ana/Library/Application Support/Microsoft Edge"),
        (BrowserKind.CHROME, "/Users/ana/Library/Application Support/Google/Chrome"),
        (BrowserKind.CHROMIUM, "/Users/ana/Library/Application Support/Chromium"),
    ],
)
def test_macos_defaults(browser: BrowserKind, expected: str) -> None:
    assert default_user_data_dir(browser, "darwin", {"HOME": "/Users/ana"}) == PurePosixPath(expected)


@pytest.mark.parametrize(
    ("browser", "expected"),
    [
        (BrowserKind.EDGE, "/home/ana/.config/microsoft-edge"),
        (BrowserKind.CHROME, "/home/ana/.config/google-chrome"),
        (BrowserKind.CHROMIUM, "/home/ana/.config/chromium"),
    ],
)
def test_linux_defaults(browser: BrowserKind, expected: str) -> None:
    assert default_user_data_dir(browser, "linux", {"HOME": "/home/ana"}) == PurePosixPath(expected)


def test_linux_honours_absolute_xdg_config_home_only() -> None:
    env = {"HOME": "/home/ana", "XDG_CONFIG_HOME": "/cfg"}
    assert default_user_data_dir(BrowserKind.CHROMIUM, "linux", env) == PurePosixPath("/cfg/chromium")
    env["XDG_CONFIG_HOME"] = "relative"
    assert default_user_data_dir(BrowserKind.CHROMIUM, "linux", env) == PurePosixPath(
        "/home/ana/.config/chromium"
    )


@pytest.mark.parametrize("platform", ["win32", "darwin", "linux"])
def test_no_home_is_an_error(platform: str) -> None:
    with pytest.raises(ValueError, match="set"):
        default_user_data_dir(BrowserKind.EDGE, platform, {})


def test_tool_profile_dir_is_per_user_data_dir() -> None:
    assert tool_profile_dir() == Path(platformdirs.user_data_dir("coupadl")) / "profile"


def test_resolve_profile_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert resolve_profile_dir(None) == tool_profile_dir()
    assert resolve_profile_dir("edge-default") == Path(default_user_data_dir(BrowserKind.EDGE))
    assert resolve_profile_dir("~/p") == tmp_path / "p"
    assert resolve_profile_dir(tmp_path / "x") == tmp_path / "x"


def test_which_default_windows_ignores_case_and_trailing_separator() -> None:
    path = r"c:\users\ANA\appdata\local\microsoft\edge\user data" + "\\"
    assert which_default_user_data_dir(path, "win32", WIN) is BrowserKind.EDGE
    assert (
        which_default_user_data_dir(r"C:\Users\ana\AppData\Local\Google\Chrome\User Data", "win32", WIN)
        is BrowserKind.CHROME
    )
    assert which_default_user_data_dir(r"C:\coupadl\profile", "win32", WIN) is None


def test_which_default_other_os() -> None:
    assert (
        which_default_user_data_dir("/home/ana/.config/chromium", "linux", {"HOME": "/home/ana"})
        is BrowserKind.CHROMIUM
    )
    mac = "/Users/ana/Library/Application Support/Microsoft Edge"
    assert which_default_user_data_dir(mac, "darwin", {"HOME": "/Users/ana"}) is BrowserKind.EDGE


def test_is_default_on_this_machine_resolves_links(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    real = tmp_path / ".config" / "google-chrome"
    real.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    import sys

    assert is_default_user_data_dir(link, sys.platform, env) == (sys.platform.startswith("linux"))
    assert not is_default_user_data_dir(tmp_path / "mine", sys.platform, env)


def test_temp_root_is_short_and_per_user() -> None:
    root = default_temp_root()
    assert root.parent == Path(tempfile.gettempdir())
    assert root.name.startswith("coupadl")
    assert len(str(root)) < 40


def test_ensure_private_dir(tmp_path: Path) -> None:
    made = ensure_private_dir(tmp_path / "a" / "b")
    assert made.is_dir()
    assert (made.stat().st_mode & 0o777) == 0o700
    link = tmp_path / "link"
    link.symlink_to(made)
    with pytest.raises(PermissionDeniedException, match="not a plain folder"):
        ensure_private_dir(link)


def test_ensure_private_dir_refuses_foreign_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getuid", lambda: 4242)
    with pytest.raises(PermissionDeniedException, match="another user"):
        ensure_private_dir(tmp_path)
