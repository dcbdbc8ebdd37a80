"""Can the base profile be used right now? One `ProfileStatusReport`, explained in one actionable line.

Checks run in the order an operator would fix things: missing → unreadable → in use → damaged. The base is
only ever read: JSON files are parsed, the cookie DB is opened read-only for `PRAGMA quick_check`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

from coupadl.errors import (
    PermissionDeniedException,
    ProfileCorruptedException,
    ProfileError,
    ProfileLockedException,
    ProfileMissingException,
)
from coupadl.profiles.checksums import SQLITE_HEADER, find_cookie_db, open_sqlite_readonly
from coupadl.profiles.locks import LockState, read_singleton_lock, windows_lockfile_held
from coupadl.profiles.models import ProfileStatus, ProfileStatusReport

__all__ = ["get_base_profile_status", "raise_for_status"]

_LOGIN_HINT = "sign in once with `coupadl login` or give --profile DIR"
# Windows sharing violation / lock violation: another process holds the file.
_WINERROR_IN_USE = {32, 33}


def _readable_dir(path: Path) -> bool:
    if not os.access(path, os.R_OK | os.X_OK):
        return False
    try:
        with os.scandir(path) as it:
            next(it, None)
    except PermissionError:
        return False
    return True


def _json_problem(path: Path) -> str | None:
    """None if `path` is a JSON object; else what is wrong with it. PermissionError propagates."""
    try:
        with path.open("rb") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return "is missing"
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"is not valid JSON ({exc.__class__.__name__})"
    if not isinstance(data, dict):
        return "is not a JSON object"
    return None


def _sqlite_problem(path: Path) -> str | None:
    """None if `path` passes `PRAGMA quick_check`; else what is wrong. PermissionError propagates."""
    with path.open("rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        return "is not a SQLite database"
    try:
        with open_sqlite_readonly(path) as conn:
            rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return f"cannot be read ({exc})"
    if rows != [("ok",)]:
        return f"fails its integrity check ({rows[0][0] if rows else 'no answer'})"
    return None


def get_base_profile_status(
    user_data_dir: Path,
    profile_name: str = "Default",
    *,
    platform: str = sys.platform,
    hostname: str | None = None,
) -> ProfileStatusReport:
    """Whether the base `user_data_dir/profile_name` can be snapshotted and used now.

    Args:
        user_data_dir: The base browser user-data-dir.
        profile_name: The profile folder inside it.
        platform: `sys.platform` value deciding how locks are detected (tests pass another).
        hostname: This machine's name as Chromium writes it in `SingletonLock` (default: the real one).

    Returns:
        AVAILABLE (with `stale_lock` set when a crashed browser left its lock), or MISSING, PERMISSION_DENIED,
        LOCKED or CORRUPTED with an explanation naming the folder and what to do.
    """
    udd = user_data_dir
    if not udd.exists():
        return ProfileStatusReport(
            ProfileStatus.MISSING, f"base profile folder {udd} does not exist: {_LOGIN_HINT}"
        )
    if not udd.is_dir():
        return ProfileStatusReport(
            ProfileStatus.MISSING, f"base profile {udd} is not a folder: {_LOGIN_HINT}"
        )
    if not _readable_dir(udd):
        return ProfileStatusReport(
            ProfileStatus.PERMISSION_DENIED,
            f"base profile folder {udd} cannot be read by this user: fix its permissions or run as its owner",
        )
    profile = udd / profile_name
    if not profile.is_dir():
        try:
            others = sorted(p.name for p in udd.iterdir() if p.is_dir() and (p / "Preferences").is_file())
        except OSError:
            others = []
        found = f" (profiles there: {', '.join(others)}; choose one with --profile-name)" if others else ""
        return ProfileStatusReport(
            ProfileStatus.MISSING,
            f"base profile {udd} has no profile folder {profile_name!r}{found}: {_LOGIN_HINT}",
        )
    if not _readable_dir(profile):
        return ProfileStatusReport(
            ProfileStatus.PERMISSION_DENIED,
            f"profile folder {profile} cannot be read by this user: fix its permissions or run as its owner",
        )

    stale: str | None = None
    if platform == "win32":
        if windows_lockfile_held(udd):
            return ProfileStatusReport(
                ProfileStatus.LOCKED,
                f"base profile {udd} is in use by a running browser: close all its windows "
                "(for Edge also turn off Startup Boost / background mode) and retry",
            )
    else:
        lock = read_singleton_lock(udd, hostname)
        if lock is not None and lock.state is LockState.LIVE:
            return ProfileStatusReport(
                ProfileStatus.LOCKED,
                f"base profile {udd} is in use by a running browser ({lock.describe()}): "
                "close all its windows and retry",
            )
        if lock is not None and lock.state is LockState.FOREIGN:
            return ProfileStatusReport(
                ProfileStatus.LOCKED,
                f"base profile {udd} is locked by a browser on another machine ({lock.describe()}): "
                f"close it there, or if that machine is gone delete {udd / 'SingletonLock'}",
            )
        if lock is not None:
            stale = f"SingletonLock -> {lock.target or '?'} (process gone; the browser will take it over)"

    try:
        for rel in ("Local State", f"{profile_name}/Preferences"):
            problem = _json_problem(udd / rel)
            if problem is not None:
                return ProfileStatusReport(
                    ProfileStatus.CORRUPTED,
                    f"base profile {udd}: {rel} {problem}: sign in again with `coupadl login` "
                    "into a fresh --profile folder",
                )
        cookies = find_cookie_db(profile)
        if cookies is not None:
            problem = _sqlite_problem(cookies)
            if problem is not None:
                return ProfileStatusReport(
                    ProfileStatus.CORRUPTED,
                    f"base profile {udd}: cookie database {cookies.relative_to(udd)} {problem}: "
                    "sign in again with `coupadl login` into a fresh --profile folder",
                )
    except PermissionError as exc:
        if getattr(exc, "winerror", None) in _WINERROR_IN_USE:
            return ProfileStatusReport(
                ProfileStatus.LOCKED,
                f"base profile {udd} is in use ({exc.filename} is held open by another program): "
                "close the browser and retry",
            )
        return ProfileStatusReport(
            ProfileStatus.PERMISSION_DENIED,
            f"{exc.filename or udd} cannot be read by this user: fix its permissions or run as its owner",
        )
    except OSError as exc:
        return ProfileStatusReport(
            ProfileStatus.CORRUPTED, f"base profile {udd} cannot be read: {exc.strerror or exc}"
        )
    return ProfileStatusReport(
        ProfileStatus.AVAILABLE, f"base profile {udd} ({profile_name}) is usable", stale
    )


_EXCEPTIONS: dict[ProfileStatus, type[ProfileError]] = {
    ProfileStatus.MISSING: ProfileMissingException,
    ProfileStatus.LOCKED: ProfileLockedException,
    ProfileStatus.CORRUPTED: ProfileCorruptedException,
    ProfileStatus.PERMISSION_DENIED: PermissionDeniedException,
}


def raise_for_status(report: ProfileStatusReport) -> None:
    """Raise the `ProfileError` matching `report` (its explanation as message); return if AVAILABLE."""
    if report.available:
        return
    raise _EXCEPTIONS[report.status](report.explanation)
