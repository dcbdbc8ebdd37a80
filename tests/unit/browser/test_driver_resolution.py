"""Driver resolution: --driver > coupadl's cache > PATH > standard places, offline, mismatch is exit-2 kind.

The cache holds the real Debian chromedriver copied into Selenium Manager's layout; the network is made
unreachable (a proxy on a closed loopback port) to show that resolution never needs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from coupadl.browser.discovery import DriverOrigin, find_executables
from coupadl.browser.drivers import cached_drivers, find_cached_driver
from coupadl.browser.versions import probe_version
from coupadl.errors import BrowserNotFoundError, DriverError, DriverMismatchError, DriverStartError
from coupadl.settings import BrowserKind
from support.drivers import CHROMEDRIVER, CHROMIUM, fake_driver

needs_chromium = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian chromium not installed")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")


def _browser_major() -> int:
    assert CHROMIUM
    version = probe_version(Path(CHROMIUM))
    assert version is not None
    return version.major


def _cache_with_real_driver(cache: Path) -> Path:
    assert CHROMEDRIVER
    version = probe_version(Path(CHROMEDRIVER))
    assert version is not None
    target = cache / "chromedriver" / "linux64" / str(version) / "chromedriver"
    target.parent.mkdir(parents=True)
    shutil.copy2(CHROMEDRIVER, target)
    return target


@needs_chromium
def test_a_driver_in_coupadls_cache_is_found_offline_before_path(tmp_path: Path) -> None:
    cached = _cache_with_real_driver(tmp_path / "drivers")
    found = find_executables(BrowserKind.CHROMIUM, cache=tmp_path / "drivers")
    assert found.driver == cached and found.driver_origin is DriverOrigin.CACHE
    assert int(found.driver_version.split(".")[0]) == _browser_major()


@needs_chromium
def test_given_driver_beats_the_cache(tmp_path: Path) -> None:
    _cache_with_real_driver(tmp_path / "drivers")
    assert CHROMEDRIVER
    found = find_executables(BrowserKind.CHROMIUM, driver=Path(CHROMEDRIVER), cache=tmp_path / "drivers")
    assert found.driver == Path(CHROMEDRIVER) and found.driver_origin is DriverOrigin.GIVEN


@needs_chromium
def test_a_cached_driver_of_another_major_is_passed_over_for_path(tmp_path: Path) -> None:
    other = _browser_major() - 7
    fake_driver(
        tmp_path / "drivers" / "chromedriver" / "linux64" / f"{other}.0.1.2" / "chromedriver",
        f"{other}.0.1.2",
    )
    found = find_executables(BrowserKind.CHROMIUM, cache=tmp_path / "drivers")
    assert found.driver_origin is DriverOrigin.PATH and found.driver == Path(str(CHROMEDRIVER))


@needs_chromium
def test_a_mismatched_driver_is_one_line_naming_coupadl_driver(tmp_path: Path) -> None:
    old = fake_driver(tmp_path / "bin" / "chromedriver", f"{_browser_major() - 10}.0.6000.1")
    with pytest.raises(DriverMismatchError) as info:
        find_executables(BrowserKind.CHROMIUM, driver=old, cache=tmp_path / "empty")
    message = str(info.value)
    assert "`coupadl driver`" in message and "\n" not in message and "sign in" not in message
    assert isinstance(info.value, DriverError)


@needs_chromium
def test_a_driver_that_does_not_answer_is_a_driver_error(tmp_path: Path) -> None:
    mute = fake_driver(tmp_path / "bin" / "chromedriver", None)
    with pytest.raises(DriverStartError, match="coupadl driver"):
        find_executables(BrowserKind.CHROMIUM, driver=mute, cache=tmp_path / "empty")


@needs_chromium
def test_no_driver_anywhere_names_coupadl_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.setattr("coupadl.browser.discovery.driver_candidates", lambda *a, **k: [])
    assert CHROMIUM
    with pytest.raises(BrowserNotFoundError, match=r"no chromedriver \d+ found: run `coupadl driver`"):
        find_executables(BrowserKind.CHROMIUM, binary=Path(CHROMIUM), cache=tmp_path / "empty")


def test_cache_lookup_picks_the_newest_of_the_browsers_major(tmp_path: Path) -> None:
    root = tmp_path / "drivers" / "chromedriver"
    for version in ("130.0.6723.58", "131.0.6778.69", "131.0.6778.85", "132.0.6834.6"):
        fake_driver(root / "linux64" / version / "chromedriver", version)
    (root / "linux64" / "not-a-version").mkdir()
    found = find_cached_driver(BrowserKind.CHROMIUM, 131, tmp_path / "drivers")
    assert found is not None and str(found.version) == "131.0.6778.85"
    assert find_cached_driver(BrowserKind.CHROMIUM, 129, tmp_path / "drivers") is None
    newest = find_cached_driver(BrowserKind.CHROMIUM, None, tmp_path / "drivers")
    assert newest is not None and str(newest.version) == "132.0.6834.6"
    assert [str(d.version) for d in cached_drivers(BrowserKind.EDGE, tmp_path / "drivers")] == []


def test_a_cached_file_that_is_not_executable_is_ignored(tmp_path: Path) -> None:
    path = fake_driver(
        tmp_path / "d" / "chromedriver" / "linux64" / "131.0.1.2" / "chromedriver", "131.0.1.2"
    )
    path.chmod(0o644)
    if os.access(path, os.X_OK):  # root may execute anything with any x bit; none is set here
        pytest.skip("this user can execute files without an x bit")
    assert find_cached_driver(BrowserKind.CHROMIUM, 131, tmp_path / "d") is None
