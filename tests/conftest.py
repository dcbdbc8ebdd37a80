"""Shared fixtures: the browser executables, sandbox sites, a signed-in profile and browsers that always quit.

Temp folders used by browsers live directly under /tmp with short names: Chromium dies at start when its
socket path passes 108 bytes, and pytest's own `tmp_path` can get long.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from selenium.webdriver.chromium.webdriver import ChromiumDriver

from coupadl.browser.discovery import Executables, find_executables
from coupadl.browser.launcher import LaunchConfig, start_driver
from coupadl.errors import BrowserNotFoundError
from coupadl.lifecycle import STRICT_ENV, set_strict
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind

# An illegal lifecycle transition raises in tests (logged in production): here, and in every process the
# tests spawn (pool workers, the CLI), which inherit the variable.
os.environ[STRICT_ENV] = "1"
set_strict(True)

# Caches and locks a copy does not need (see facts/chromium-profiles.md).
_PROFILE_COPY_SKIP = shutil.ignore_patterns(
    "Singleton*", "lockfile", "LOCK", "DevToolsActivePort", "Cache", "Code Cache", "GPUCache", "*Dawn*Cache",
    "GrShaderCache", "ShaderCache", "Crashpad", "BrowserMetrics*", "component_crx_cache",
)  # fmt: skip


class SandboxFactory(Protocol):
    """Starts a sandbox server that is stopped after the test."""

    def __call__(self, scenario: Scenario | None = None, **kwargs: Any) -> SandboxServer: ...


class DriverFactory(Protocol):
    """Starts a browser (same switches as every window) that is quit after the test."""

    def __call__(self, user_data_dir: Path, profile_name: str = "Default") -> ChromiumDriver: ...


def _short_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def _remove_tree(path: Path, timeout: float = 5.0) -> None:
    """Remove `path`, retrying while Chromium's helpers (alive 1-2 s after quit) still write into it."""
    deadline = time.monotonic() + timeout
    while True:
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists() or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def copy_profile(source: Path, target: Path) -> Path:
    """Copy a closed user-data-dir without caches and lock files; returns `target`."""
    shutil.copytree(source, target, ignore=_PROFILE_COPY_SKIP, symlinks=True)
    return target


# --- browsers ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def executables() -> Executables:
    """Chromium and chromedriver as found on this machine (skips browser tests when missing)."""
    try:
        return find_executables(BrowserKind.CHROMIUM)
    except BrowserNotFoundError as exc:
        pytest.skip(f"no Chromium to drive: {exc}")


@pytest.fixture(scope="session")
def launch_config(executables: Executables) -> LaunchConfig:
    """Headless launch settings shared by every test browser."""
    return LaunchConfig(executables, headless=True)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A fresh folder directly under /tmp with a short name, removed after the test."""
    path = _short_dir("cdl-")
    try:
        yield path
    finally:
        _remove_tree(path)


@pytest.fixture
def driver_factory(launch_config: LaunchConfig, short_tmp: Path) -> Iterator[DriverFactory]:
    """`driver_factory(user_data_dir, profile_name="Default")` starts a browser; every one is quit after.

    Depends on `short_tmp` only so that pytest quits the browsers before it removes that folder.
    """
    drivers: list[ChromiumDriver] = []

    def start(user_data_dir: Path, profile_name: str = "Default") -> ChromiumDriver:
        driver = start_driver(launch_config, user_data_dir, profile_name)
        drivers.append(driver)
        return driver

    try:
        yield start
    finally:
        for driver in reversed(drivers):
            driver.quit()


# --- sandbox sites -------------------------------------------------------------------------------------


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """`sandbox_factory(scenario=None, **SandboxServer kwargs)` starts a server; all are stopped after."""
    servers: list[SandboxServer] = []

    def start(scenario: Scenario | None = None, **kwargs: Any) -> SandboxServer:
        server = SandboxServer(scenario, **kwargs).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> SandboxServer:
    """A running sandbox serving `Scenario.small()`."""
    return sandbox_factory(Scenario.small())


# --- signed-in profiles -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def signed_in_profile(launch_config: LaunchConfig) -> Iterator[Path]:
    """A user-data-dir (profile `Default`) signed in to the sandbox, valid on every sandbox instance.

    Read-only for tests: start browsers on `signed_in_copy` (a browser changes the folder it runs on).
    """
    root = _short_dir("cdl-base-")
    try:
        with SandboxServer(Scenario.small()) as server:
            sign_in_profile(launch_config, root / "u", server.base_url)
        yield root / "u"
    finally:
        _remove_tree(root)


@pytest.fixture
def signed_in_copy(signed_in_profile: Path, short_tmp: Path) -> Path:
    """A private copy of `signed_in_profile` for one test."""
    return copy_profile(signed_in_profile, short_tmp / "u")


@pytest.fixture
def signed_in_driver(driver_factory: DriverFactory, signed_in_copy: Path) -> ChromiumDriver:
    """A headless browser on a private signed-in profile copy."""
    return driver_factory(signed_in_copy)


class Downloads:
    """Routes a browser's downloads to fresh folders and waits for finished files.

    Args:
        root: Folder under which one sub-folder per `route` call is made.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._count = 0

    def route(self, driver: ChromiumDriver) -> Path:
        """Send every later download of `driver` to a new empty folder, returned."""
        self._count += 1
        folder = self.root / str(self._count)
        folder.mkdir(parents=True)
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
        )
        return folder

    @staticmethod
    def finished(folder: Path) -> list[Path]:
        """Completed files in `folder` (no `.crdownload` partials), sorted by name."""
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".crdownload"))

    @staticmethod
    def wait(folder: Path, count: int = 1, timeout: float = 10.0) -> list[Path]:
        """Wait until `folder` holds `count` finished files and no partial one; fails the test on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            names = [p.name for p in folder.iterdir()]
            done = Downloads.finished(folder)
            if len(done) >= count and not any(n.endswith(".crdownload") for n in names):
                return done
            if time.monotonic() > deadline:
                pytest.fail(
                    f"expected {count} finished download(s) in {folder} within {timeout} s, saw {names}"
                )
            time.sleep(0.05)


@pytest.fixture
def downloads(short_tmp: Path) -> Downloads:
    """A `Downloads` helper whose folders are removed after the test."""
    return Downloads(short_tmp / "downloads")


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A private X display (Xvfb) for visible-mode windows; the test sets DISPLAY to it.

    Xvfb picks a free display number and writes it to `-displayfd` once it accepts connections: that line
    is the readiness signal (no guessed delay, no clash with another test's display).
    """
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (the README's setup command installs it)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end, "r") as ready:
            if not select.select([ready], [], [], 30.0)[0]:
                pytest.fail("Xvfb did not report its display within 30 s")
            number = ready.readline().strip()
        if not number.isdigit():
            pytest.fail(f"Xvfb ended at start (exit {proc.poll()})")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
