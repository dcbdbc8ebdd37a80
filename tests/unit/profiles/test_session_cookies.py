"""Session-only cookies become persistent in coupadl's snapshot (so clones need no session restore); the
base keeps its own exactly."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

from coupadl.profiles.session_cookies import SESSION_COOKIE_LIFETIME, persist_session_cookies
from coupadl.profiles.snapshot import take_snapshot

# The columns of Chromium's `cookies` table that matter here (the real table has more).
SCHEMA = (
    "CREATE TABLE cookies (host_key TEXT, name TEXT, encrypted_value BLOB, expires_utc INTEGER, "
    "is_persistent INTEGER, has_expires INTEGER)"
)
EPOCH_OFFSET_US = 11_644_473_600 * 1_000_000


def _profile(root: Path) -> Path:
    profile = root / "Default"
    profile.mkdir(parents=True)
    (root / "Local State").write_text("{}", encoding="utf-8")
    (profile / "Preferences").write_text("{}", encoding="utf-8")
    with closing(sqlite3.connect(profile / "Cookies")) as db, db:
        db.execute(SCHEMA)
        db.executemany(
            "INSERT INTO cookies VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("127.0.0.1", "_session", b"v10-secret", 0, 0, 0),  # session-only (Rails' default)
                ("127.0.0.1", "remember", b"v10-other", 13_500_000_000_000_000, 1, 1),
            ],
        )
    return profile


def _rows(database: Path) -> dict[str, tuple[bytes, int, int, int]]:
    with closing(sqlite3.connect(database)) as db:
        return {
            name: (value, expires, persistent, has_expires)
            for name, value, expires, persistent, has_expires in db.execute(
                "SELECT name, encrypted_value, expires_utc, is_persistent, has_expires FROM cookies"
            )
        }


def test_session_cookies_become_persistent_with_their_values_kept(tmp_path: Path) -> None:
    _profile(tmp_path / "udd")
    before = _rows(tmp_path / "udd" / "Default" / "Cookies")
    assert persist_session_cookies(tmp_path / "udd", "Default") == 1
    after = _rows(tmp_path / "udd" / "Default" / "Cookies")
    value, expires, persistent, has_expires = after["_session"]
    assert (value, persistent, has_expires) == (b"v10-secret", 1, 1)
    lifetime_us = SESSION_COOKIE_LIFETIME.total_seconds() * 1_000_000
    now_us = time.time() * 1_000_000 + EPOCH_OFFSET_US
    assert now_us + lifetime_us - 60e6 < expires < now_us + lifetime_us + 60e6
    assert after["remember"] == before["remember"]  # persistent cookies are left alone
    assert persist_session_cookies(tmp_path / "udd", "Default") == 0  # nothing left to change


def test_the_snapshot_has_them_persistent_and_the_base_keeps_them_session_only(tmp_path: Path) -> None:
    base = tmp_path / "base"
    _profile(base)
    before = _rows(base / "Default" / "Cookies")
    snapshot = take_snapshot(base, "Default", tmp_path / "snap")
    assert _rows(base / "Default" / "Cookies") == before  # the base is only read
    assert _rows(snapshot.path / "Default" / "Cookies")["_session"][2:] == (1, 1)


def test_a_profile_without_a_cookie_database_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "udd" / "Default").mkdir(parents=True)
    assert persist_session_cookies(tmp_path / "udd", "Default") == 0
