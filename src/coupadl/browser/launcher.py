"""Start a Selenium 4 driver on a given user-data-dir, with the same switches for every window and for login.

The profile the operator signs into (`coupadl login`) and every window later started on it or on its clones
use exactly these options, so cookie encryption and preferences agree (see facts/chromium-profiles.md).

No ChromeDriver `prefs`: ChromeDriver writes them into the profile's `Preferences` for good, which would
change the operator's own browser settings. What a window needs is given by switches here; the rest is
written into the profile's `Preferences` by `coupadl.profiles.preferences` (for good in clones, only while
the window runs on the base).
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coupadl.browser.discovery import Executables
from coupadl.choices import BrowserKind

if TYPE_CHECKING:  # Selenium is imported by the processes that start a browser, not with `LaunchConfig`
    from selenium.webdriver.chromium.options import ChromiumOptions
    from selenium.webdriver.chromium.webdriver import ChromiumDriver

__all__ = ["LaunchConfig", "build_options", "capability_pids", "reported_user_data_dir", "start_driver"]


@dataclass(frozen=True)
class LaunchConfig:
    """How windows are launched: executables, visibility and timeouts (seconds). Picklable for workers."""

    executables: Executables
    headless: bool = True
    page_load_timeout: float = 60.0
    window_size: tuple[int, int] = (1280, 900)


def _base_arguments(config: LaunchConfig) -> list[str]:
    args = [
        "--no-first-run",
        "--no-default-browser-check",
        # No calls home: this machine (and many corporate laptops) refuse them, which slows every start.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # WebUIOmniboxPopup, WebUIOmniboxAimPopup: Chromium 156 preloads the address bar's drop-down as a
        # WebUI page in a renderer of its own at every start, headless too: ~0.5 CPU-s of the ~1.1 a window
        # costs until it is verified (BENCHMARKS.md "Start-up"). Without them the drop-down is the native one,
        # built when someone types in the address bar. Browser UI only: the profile is the same.
        "--disable-features=Translate,OptimizationHints,MediaRouter,WebUIOmniboxPopup,WebUIOmniboxAimPopup",
        "--disable-search-engine-choice-screen",
        f"--window-size={config.window_size[0]},{config.window_size[1]}",
    ]
    if config.headless:
        args.append("--headless=new")
    if sys.platform.startswith("linux"):
        args.append("--disable-dev-shm-usage")
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return args


def build_options(
    config: LaunchConfig, user_data_dir: Path, profile_name: str, *, restore_last_session: bool = True
) -> ChromiumOptions:
    """Options putting a window on `user_data_dir/profile_name`.

    `restore_last_session` (the base's window and `login`): load the last session's cookies, session-only ones
    included (Rails' default sign-in cookie): Chromium loads those only when it restores the last session, and
    `--restore-last-session` does so whatever the profile's `session.restore_on_startup` says, leaving that
    preference unchanged (measured, Chromium 156); the base may reopen its last tabs. Clones start without it,
    on `about:blank` (profiles/preferences.py), their session cookies made persistent in the run's snapshot.
    """
    from selenium import webdriver

    options: ChromiumOptions = (
        webdriver.EdgeOptions()
        if config.executables.browser is BrowserKind.EDGE
        else webdriver.ChromeOptions()
    )
    options.binary_location = str(config.executables.binary)
    for arg in _base_arguments(config):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.add_argument(f"--profile-directory={profile_name}")
    if restore_last_session:
        options.add_argument("--restore-last-session")
    # The driver's defaults would hide the cookies of a profile made by a normal browser start; leaving them
    # out makes every window read cookies exactly as the operator's browser does.
    options.add_experimental_option(
        "excludeSwitches", ["password-store", "use-mock-keychain", "enable-automation"]
    )
    options.page_load_strategy = "normal"
    # The driver always listens on this machine: a system proxy (HTTP_PROXY set, localhost not in NO_PROXY)
    # must never carry Selenium's commands to it, or no window starts behind a corporate proxy.
    # Selenium 4.x deprecates this switch in favour of a ClientConfig that Chrome()/Edge() do not accept yet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        options.ignore_local_proxy_environment_variables()
    return options


def start_driver(
    config: LaunchConfig,
    user_data_dir: Path,
    profile_name: str = "Default",
    *,
    restore_last_session: bool = True,
) -> ChromiumDriver:
    """Start the browser on `user_data_dir`; the driver path is passed explicitly (no Selenium Manager).

    Raises `BrowserStartError` (or `DefaultProfileRefusedError` / `DriverMismatchError`) in one line.
    """
    from selenium import webdriver

    from coupadl.browser.translate import translate_start_error

    options = build_options(config, user_data_dir, profile_name, restore_last_session=restore_last_session)
    driver_path = str(config.executables.driver)
    try:
        if config.executables.browser is BrowserKind.EDGE:
            service: Any = webdriver.EdgeService(executable_path=driver_path)
            driver: ChromiumDriver = webdriver.Edge(options=options, service=service)  # type: ignore[arg-type]
        else:
            service = webdriver.ChromeService(executable_path=driver_path)
            driver = webdriver.Chrome(options=options, service=service)  # type: ignore[arg-type]
    except Exception as exc:
        raise translate_start_error(exc, user_data_dir) from exc
    driver.set_page_load_timeout(config.page_load_timeout)
    return driver


def reported_user_data_dir(capabilities: dict[str, Any]) -> str | None:
    """The user-data-dir the driver says the browser runs on (`chrome` or `msedge` capability)."""
    for key in ("chrome", "msedge"):
        section = capabilities.get(key)
        if isinstance(section, dict) and section.get("userDataDir"):
            return str(section["userDataDir"])
    return None


def capability_pids(driver: ChromiumDriver) -> tuple[int | None, int | None]:
    """(browser PID reported by the driver, driver PID from its service)."""
    browser_pid = driver.capabilities.get("goog:processID") or driver.capabilities.get("ms:processID")
    process = getattr(getattr(driver, "service", None), "process", None)
    driver_pid = getattr(process, "pid", None)
    return (int(browser_pid) if browser_pid else None, int(driver_pid) if driver_pid else None)
