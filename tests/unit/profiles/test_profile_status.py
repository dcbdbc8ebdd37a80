"""Every `ProfileStatus` of the base, each with an actionable explanation; the base is only read."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from profile_factory import build_profile, dead_pid, tree_state

from coupadl.errors import (
    PermissionDeniedException,
    ProfileCorruptedException,
    ProfileLockedException,
    ProfileMissingException,
)
from coupadl.profiles import locks, status
from coupadl.profiles.locks import LockState, read_singleton_lock
from coupadl.profiles.models import ProfileStatus, ProfileStatusReport
from coupadl.profiles.status import get_base_profile_status, raise_for_status
from support.waiting import wait_for


def test_available_and_unchanged(base: Path) -> None:
    before = tree_state(base)
    report = get_base_profile_status(base)
    assert report.status is ProfileStatus.AVAILABLE
    assert report.available and report.stale_lock is None
    assert tree_state(base) == before


def test_missing_folder(tmp_path: Path) -> None:
    report = get_base_profile_status(tmp_path / "nope")
    assert report.status is ProfileStatus.MISSING
    assert "does not exist" in report.explanation and "coupadl login" in report.explanation


def test_a_file_is_not_a_profile(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert get_base_profile_status(tmp_path / "f").status is ProfileStatus.MISSING


def test_missing_profile_subfolder_names_the_ones_there(base: Path) -> None:
    report = get_base_profile_status(base, "Profile 9")
    assert report.status is ProfileStatus.MISSING
    assert "'Profile 9'" in report.explanation
    assert "Default" in report.explanation and "Profile 1" in report.explanation
    assert "--profile-name" in report.explanation


def test_permission_denied_on_the_folder(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.access
    monkeypatch.setattr(status.os, "access", lambda p, mode: False if Path(p) == base else real(p, mode))
    report = get_base_profile_status(base)
    assert report.status is ProfileStatus.PERMISSION_DENIED
    assert "cannot be read" in report.explanation


def test_permission_denied_on_the_profile_folder(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.access
    target = base / "Default"
    monkeypatch.setattr(status.os, "access", lambda p, mode: False if Path(p) == target else real(p, mode))
    assert get_base_profile_status(base).status is ProfileStatus.PERMISSION_DENIED


def test_permission_denied_reading_a_file(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def guarded(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.name == "Local State":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", guarded)
    report = get_base_profile_status(base)
    assert report.status is ProfileStatus.PERMISSION_DENIED
    assert "Local State" in report.explanation


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads whatever chmod says")
def test_permission_denied_by_chmod(base: Path) -> None:
    (base / "Default").chmod(0)
    try:
        assert get_base_profile_status(base).status is ProfileStatus.PERMISSION_DENIED
    finally:
        (base / "Default").chmod(0o700)


def test_live_lock_on_this_host(tmp_path: Path, live_lock: str) -> None:
    udd = build_profile(tmp_path / "u", lock_target=live_lock)
    report = get_base_profile_status(udd)
    assert report.status is ProfileStatus.LOCKED
    assert f"pid {os.getpid()}" in report.explanation and "close" in report.explanation


def test_lock_from_another_host(tmp_path: Path) -> None:
    udd = build_profile(tmp_path / "u", lock_target="other-machine.example-4321")
    report = get_base_profile_status(udd)
    assert report.status is ProfileStatus.LOCKED
    assert "other-machine.example" in report.explanation and "another machine" in report.explanation


def test_stale_lock_is_available_and_said(tmp_path: Path) -> None:
    import socket

    pid = dead_pid()
    udd = build_profile(tmp_path / "u", lock_target=f"{socket.gethostname()}-{pid}")
    report = get_base_profile_status(udd)
    assert report.status is ProfileStatus.AVAILABLE
    assert report.stale_lock is not None and str(pid) in report.stale_lock


def test_hostname_with_dashes_is_parsed(tmp_path: Path) -> None:
    udd = build_profile(tmp_path / "u", lock_target=f"my-laptop-01-{os.getpid()}")
    lock = locks.read_singleton_lock(udd, hostname="my-laptop-01")
    assert lock is not None and lock.host == "my-laptop-01" and lock.pid == os.getpid()
    assert lock.state is locks.LockState.LIVE


def test_windows_lockfile_held(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (base / "lockfile").write_bytes(b"")
    real_open = os.open

    def held(path: object, flags: int, *args: object) -> int:
        if Path(str(path)).name == "lockfile":
            raise PermissionError(13, "The process cannot access the file")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(locks.os, "open", held)
    report = get_base_profile_status(base, platform="win32")
    assert report.status is ProfileStatus.LOCKED
    assert "Startup Boost" in report.explanation


def test_windows_lockfile_left_by_a_crash_is_fine(base: Path) -> None:
    (base / "lockfile").write_bytes(b"")
    before = tree_state(base)
    assert get_base_profile_status(base, platform="win32").status is ProfileStatus.AVAILABLE
    assert tree_state(base) == before


def test_windows_cookie_db_held_open(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def held(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.name == "Cookies":
            exc = PermissionError(13, "sharing violation", str(self))
            exc.winerror = 32  # type: ignore[attr-defined]
            raise exc
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", held)
    assert get_base_profile_status(base, platform="win32").status is ProfileStatus.LOCKED


@pytest.mark.parametrize(
    ("rel", "content", "words"),
    [
        ("Local State", b"{not json", "Local State is not valid JSON"),
        ("Local State", b"[1, 2]", "Local State is not a JSON object"),
        ("Default/Preferences", b"\xff\xfe garbage", "Default/Preferences is not valid JSON"),
        ("Default/Network/Cookies", b"definitely not sqlite" * 10, "is not a SQLite database"),
    ],
)
def test_corrupted_files(base: Path, rel: str, content: bytes, words: str) -> None:
    (base / rel).write_bytes(content)
    report = get_base_profile_status(base)
    assert report.status is ProfileStatus.CORRUPTED
    assert words in report.explanation


def test_missing_local_state_is_corrupted(base: Path) -> None:
    (base / "Local State").unlink()
    report = get_base_profile_status(base)
    assert report.status is ProfileStatus.CORRUPTED and "Local State is missing" in report.explanation


def _damage_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE big (x BLOB)")
        conn.executemany("INSERT INTO big VALUES (?)", [(os.urandom(900),) for _ in range(200)])
        conn.execute("CREATE INDEX big_x ON big (x)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data) - page, page * 3):
        data[offset + 8 : offset + 64] = os.urandom(56)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("cookie_rel", ["Network/Cookies", "Cookies"])
def test_cookie_db_failing_quick_check(tmp_path: Path, cookie_rel: str) -> None:
    udd = build_profile(tmp_path / "u", cookie_rel=cookie_rel)
    db = udd / "Default" / cookie_rel
    db.with_name(db.name + "-journal").unlink()
    _damage_sqlite(db)
    report = get_base_profile_status(udd)
    assert report.status is ProfileStatus.CORRUPTED
    assert cookie_rel in report.explanation


@pytest.mark.parametrize(
    ("status_", "exc"),
    [
        (ProfileStatus.MISSING, ProfileMissingException),
        (ProfileStatus.LOCKED, ProfileLockedException),
        (ProfileStatus.CORRUPTED, ProfileCorruptedException),
        (ProfileStatus.PERMISSION_DENIED, PermissionDeniedException),
    ],
)
def test_raise_for_status(status_: ProfileStatus, exc: type[Exception]) -> None:
    with pytest.raises(exc, match="the explanation"):
        raise_for_status(ProfileStatusReport(status_, "the explanation"))


def test_raise_for_status_passes_available() -> None:
    raise_for_status(ProfileStatusReport(ProfileStatus.AVAILABLE, "fine"))


def test_a_lock_naming_a_zombie_is_stale(tmp_path: Path) -> None:
    """A browser killed a moment ago and not yet reaped holds no lock (Chromium agrees)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, "a zombie child")
        (tmp_path / "SingletonLock").symlink_to(f"{socket.gethostname()}-{child.pid}")
        lock = read_singleton_lock(tmp_path)
        assert lock is not None and lock.state is LockState.STALE
    finally:
        child.wait()
