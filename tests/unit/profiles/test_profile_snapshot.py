"""The snapshot: what is copied and how, SQLite by backup API, content checksums, free space."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from profile_factory import make_sqlite, tree_state

from coupadl.errors import InsufficientSpaceException
from coupadl.profiles import copying
from coupadl.profiles.checksums import (
    compare_checksums,
    file_sha256,
    find_cookie_db,
    key_artifacts,
    open_sqlite_readonly,
    sqlite_content_sha256,
)
from coupadl.profiles.copying import is_skipped, plan_snapshot
from coupadl.profiles.manager import ProfileManager
from coupadl.profiles.markers import COMPLETE_MARKER, OWNER_MARKER, read_complete
from coupadl.profiles.models import ProfileManagerState


@pytest.mark.parametrize(
    ("name", "is_dir"),
    [
        ("Cache", True),
        ("Code Cache", True),
        ("GPUCache", True),
        ("GrShaderCache", True),
        ("DawnCache", True),
        ("GraphiteDawnCache", True),
        ("component_crx_cache", True),
        ("CacheStorage", True),
        ("Crashpad", True),
        ("optimization_guide_model_store", True),
        ("BrowserMetrics", True),
        ("Crash Reports", True),
        ("SingletonLock", False),
        ("SingletonSocket", False),
        ("lockfile", False),
        ("LOCK", False),
        ("DevToolsActivePort", False),
        ("Cookies-journal", False),
        ("History-wal", False),
        ("x-shm", False),
        ("BrowserMetrics-spare.pma", False),
        (".coupadl-owner.json", False),
    ],
)
def test_skipped(name: str, is_dir: bool) -> None:
    assert is_skipped(name, is_dir=is_dir)


@pytest.mark.parametrize(
    "name", ["Cookies", "Preferences", "Local State", "000003.log", "CURRENT", "Login Data"]
)
def test_kept(name: str) -> None:
    assert not is_skipped(name, is_dir=False)


def test_plan_takes_top_files_and_one_profile(base: Path) -> None:
    plan = plan_snapshot(base, "Default")
    files = {rel for rel, _ in plan.files}
    assert {
        "Local State",
        "First Run",
        "Last Version",
        "Default/Preferences",
        "Default/Network/Cookies",
        "Default/Local Storage/leveldb/000003.log",
        "Default/Local Storage/leveldb/CURRENT",
    } <= files
    assert not any(rel.startswith("Profile 1") for rel in files)
    assert not any("Cache" in rel or "LOCK" in rel or "journal" in rel or "Metrics" in rel for rel in files)
    assert "DevToolsActivePort" not in files
    assert plan.skipped_links == ("Default/link-to-elsewhere",)


def test_snapshot_contents(manager_factory: Callable[..., ProfileManager], base: Path) -> None:
    before = tree_state(base)
    manager = manager_factory()
    manager.start()
    assert manager.state is ProfileManagerState.ACTIVE
    snap = manager.snapshot_path
    assert (snap.stat().st_mode & 0o777) == 0o700
    assert (snap.parent.stat().st_mode & 0o777) == 0o700
    assert (snap / COMPLETE_MARKER).is_file() and (snap / OWNER_MARKER).is_file()
    conn = sqlite3.connect(snap / "Default" / "Network" / "Cookies")
    assert conn.execute("SELECT k, v FROM cookies").fetchall() == [("sandbox.test", b"\x01session")]
    conn.close()
    names = {p.name for p in snap.rglob("*")}
    assert not names & {
        "Cache",
        "Code Cache",
        "GPUCache",
        "SingletonLock",
        "LOCK",
        "Profile 1",
        "Cookies-journal",
        "link-to-elsewhere",
        "DevToolsActivePort",
        "GrShaderCache",
    }
    assert (snap / "Default" / "Local Storage" / "leveldb" / "000003.log").read_bytes() == b"ls" * 100
    # Non-SQLite files keep their metadata.
    assert (snap / "Local State").stat().st_mtime_ns == (base / "Local State").stat().st_mtime_ns
    record = read_complete(snap)
    assert record is not None
    assert set(record["checksums"]) == {
        "Local State",
        "Default/Preferences",
        "Default/Network/Cookies",
        "Default/Login Data",
        "Default/Web Data",
    }
    assert tree_state(base) == before


def test_snapshot_of_debian_cookie_location(tmp_path: Path, temp_root: Path) -> None:
    from profile_factory import build_profile

    udd = build_profile(tmp_path / "u", cookie_rel="Cookies")
    with ProfileManager(udd, temp_directory=temp_root) as manager:
        assert "Default/Cookies" in read_complete(manager.snapshot_path)["checksums"]  # type: ignore[index]


def test_content_hash_equal_for_backup_copy_and_sensitive_to_rows(tmp_path: Path) -> None:
    src = tmp_path / "a.db"
    make_sqlite(src, "cookies", [("h", b"v", 1), ("g", None, 2)])
    dst = tmp_path / "b.db"
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()
    assert sqlite_content_sha256(src) == sqlite_content_sha256(dst)
    conn = sqlite3.connect(dst)
    with conn:
        conn.execute("UPDATE cookies SET v = ? WHERE k = 'h'", ("v",))  # same text, now TEXT not BLOB
    conn.close()
    assert sqlite_content_sha256(src) != sqlite_content_sha256(dst)


def test_key_artifacts_and_compare(base: Path) -> None:
    rels = key_artifacts(base, "Default")
    assert rels == [
        "Local State",
        "Default/Preferences",
        "Default/Network/Cookies",
        "Default/Login Data",
        "Default/Web Data",
    ]
    assert find_cookie_db(base / "Default") == base / "Default" / "Network" / "Cookies"
    sums = {r: file_sha256(base / r) for r in rels}
    assert compare_checksums(sums, sums) == []
    other = dict(sums, **{"Local State": "0"})
    del other["Default/Web Data"]
    assert compare_checksums(sums, other) == ["missing: Default/Web Data", "different: Local State"]


def test_full_disk_refuses_before_copying(
    manager_factory: Callable[..., ProfileManager], temp_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copying.shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10**9, 10**9, 10))  # type: ignore[attr-defined]
    manager = manager_factory()
    with pytest.raises(InsufficientSpaceException, match="MiB free"):
        manager.start()
    assert manager.state is ProfileManagerState.INITIALIZED
    assert list(temp_root.iterdir()) == []


def test_disk_filling_up_while_copying(
    manager_factory: Callable[..., ProfileManager], temp_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_a: Any, **_k: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(copying.shutil, "copy2", full)
    manager = manager_factory()
    with pytest.raises(InsufficientSpaceException, match="filled up"):
        manager.start()
    assert list(temp_root.iterdir()) == []


def _wal_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")  # as Chromium keeps e.g. DIPS
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()  # the last connection checkpoints and removes -wal and -shm


def test_reading_a_wal_database_leaves_nothing_beside_it(tmp_path: Path) -> None:
    db = tmp_path / "DIPS"
    _wal_database(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DIPS"]
    before = db.read_bytes()
    with open_sqlite_readonly(db) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DIPS"]
    assert db.read_bytes() == before


def test_a_wal_left_beside_a_database_is_read_from_a_private_copy(tmp_path: Path) -> None:
    db = tmp_path / "Cookies"
    _wal_database(db)
    writer = sqlite3.connect(db)  # open: its WAL holds a row the main file does not have yet
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO t VALUES (2)")
    writer.commit()
    try:
        beside = sorted(p.name for p in tmp_path.iterdir())
        assert "Cookies-wal" in beside
        with open_sqlite_readonly(db) as conn:
            assert conn.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]
        assert sorted(p.name for p in tmp_path.iterdir()) == beside
    finally:
        writer.close()
