"""`coupadl doctor`: is this machine ready for `coupadl run`? One verdict and one fix per line.

Nothing here opens a browser window: versions are read from files (Windows, macOS) or from `--version`
(Linux), the profile is only read, and nothing is downloaded.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from coupadl.browser.discovery import DriverOrigin, find_browser, find_driver
from coupadl.browser.versions import Version, browser_version, probe_version
from coupadl.errors import CoupadlError
from coupadl.profiles import get_base_profile_status, resolve_profile_dir
from coupadl.settings import LoadedConfig, Settings, load_config

__all__ = ["MIN_FREE_BYTES", "Check", "diagnose", "format_check"]

MIN_FREE_BYTES = 1024**3
"""Below 1 GiB free at --out, a run of real attachments is likely to fill the disk."""


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: what was checked, whether it is fine, what it found, the fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def format_check(check: Check) -> str:
    """`ok   browser  chromium 156.0 at /usr/bin/chromium` / `FIX  driver  ... → fix: ...`."""
    verdict = "ok " if check.ok else "FIX"
    line = f"{verdict}  {check.name:<8} {check.detail}"
    return line if check.ok or not check.fix else f"{line} → {check.fix}"


def _flags_only(flags: Mapping[str, Any]) -> Settings:
    """The settings of the flags alone (defaults for the rest), for checking on despite a bad config."""
    given = {k: v for k, v in flags.items() if v is not None and k != "config"}
    try:
        return Settings(**given)
    except ValidationError:
        return Settings()


def _config(flags: Mapping[str, Any]) -> tuple[Settings, Check]:
    try:
        loaded: LoadedConfig = load_config(flags)
    except CoupadlError as exc:
        return _flags_only(flags), Check(
            "config", False, str(exc), "correct it; the checks below use only the flags given"
        )
    files = ", ".join(str(p) for p in loaded.provenance.files) or "no config file"
    return loaded.settings, Check("config", True, f"valid ({files}; `coupadl config` shows every value)")


def _base_url(settings: Settings) -> Check:
    if settings.base_url:
        origin = settings.provenance.origin("base_url")
        return Check("address", True, f"{settings.base_url} (from {origin})")
    return Check(
        "address",
        False,
        "no Coupa address set",
        "`coupadl login --base-url https://acme.coupahost.com --save-base-url` remembers it",
    )


def _browser(settings: Settings) -> tuple[Path | None, Version | None, Check]:
    try:
        binary = find_browser(settings.browser, settings.browser_binary)
    except CoupadlError as exc:
        return (
            None,
            None,
            Check("browser", False, str(exc), f"install {settings.browser.value} or choose --browser"),
        )
    version = browser_version(settings.browser, binary)
    if version is None:
        return (
            binary,
            None,
            Check(
                "browser",
                False,
                f"{settings.browser.value} at {binary}: its version cannot be read",
                "give the real browser executable with --browser-binary",
            ),
        )
    return binary, version, Check("browser", True, f"{settings.browser.value} {version} at {binary}")


def _driver(settings: Settings, binary: Path | None, browser: Version | None, cache: Path | None) -> Check:
    try:
        path, origin, version = find_driver(
            settings.browser, browser.major if browser else None, settings.driver, cache
        )
    except CoupadlError as exc:
        fix = "run `coupadl driver`" if binary else "install the browser first, then run `coupadl driver`"
        return Check("driver", False, str(exc), fix)
    version = version or probe_version(path)
    where = f"{path} (from {origin.value})"
    if version is None:
        fix = "run `coupadl driver`" + (
            "" if origin is not DriverOrigin.GIVEN else ", or give a working --driver PATH"
        )
        return Check("driver", False, f"{where} does not answer --version", fix)
    if browser is not None and version.major != browser.major:
        return Check(
            "driver",
            False,
            f"{path.name} {version} at {where} does not match {settings.browser.value} {browser.major}",
            "run `coupadl driver` (fetches the matching one into coupadl's cache)",
        )
    matches = f", matches {settings.browser.value} {browser.major}" if browser else ""
    return Check("driver", True, f"{path.name} {version} at {where}{matches}")


def _profile(settings: Settings) -> Check:
    udd = resolve_profile_dir(settings.profile)
    report = get_base_profile_status(udd, settings.profile_name)
    if report.available:
        stale = f" (a crashed browser left a lock: {report.stale_lock})" if report.stale_lock else ""
        return Check("profile", True, f"{udd / settings.profile_name} is usable{stale}")
    # The explanation already says what to do (profiles.status writes it for operators).
    return Check("profile", False, f"{report.status.value}: {report.explanation}")


def _disk(settings: Settings, min_free: int) -> Check:
    out = settings.out.expanduser().absolute()
    probe = out
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError as exc:
        return Check("disk", False, f"cannot tell the free space at {out}: {exc.strerror or exc}", "")
    shown = f"{free / 1024**3:.1f} GiB free at {out}"
    if free < min_free:
        return Check(
            "disk",
            False,
            f"only {shown}",
            f"free some space or choose another --out (at least {min_free / 1024**3:.0f} GiB advised)",
        )
    return Check("disk", True, shown)


def diagnose(
    flags: Mapping[str, Any], *, cache: Path | None = None, min_free: int = MIN_FREE_BYTES
) -> list[Check]:
    """Every check, in the order an operator fixes things: config, address, browser, driver, profile, disk."""
    settings, config = _config(flags)
    binary, version, browser = _browser(settings)
    return [
        config,
        _base_url(settings),
        browser,
        _driver(settings, binary, version, cache),
        _profile(settings),
        _disk(settings, min_free),
    ]
