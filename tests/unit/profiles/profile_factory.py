"""Synthetic Chromium user-data-dirs for the profile tests, and a way to prove the base never changes.

A module with its own name (not conftest) so that test modules can import it unambiguously.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def make_sqlite(path: Path, table: str, rows: list[tuple[object, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(f"CREATE TABLE {table} (k TEXT, v BLOB, n INTEGER)")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('version', '21')")
        conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", rows)  # noqa: S608
    conn.close()


def build_profile(
    root: Path,
    *,
    profile_name: str = "Default",
    cookie_rel: str = "Network/Cookies",
    lock_target: str | None = None,
) -> Path:
    """A small but complete user-data-dir: state, SQLite DBs, LevelDB, caches, locks and journals."""
    root.mkdir(parents=True)
    (root / "Local State").write_text(json.dumps({"os_crypt": {"encrypted_key": "RFBBUEk="}, "profile": {}}))
    (root / "First Run").write_text("")
    (root / "Last Version").write_text("156.0.0.0")
    (root / "DevToolsActivePort").write_text("9222\n/devtools/browser/x")
    (root / "BrowserMetrics").mkdir()
    (root / "BrowserMetrics" / "BrowserMetrics-1.pma").write_bytes(b"m" * 4096)
    (root / "BrowserMetrics-spare.pma").write_bytes(b"s" * 4096)
    for cache in ("GrShaderCache", "Crashpad", "component_crx_cache"):
        (root / cache).mkdir()
        (root / cache / "data_0").write_bytes(b"c" * 2048)
    (root / "Profile 1").mkdir()
    (root / "Profile 1" / "Preferences").write_text("{}")
    profile = root / profile_name
    profile.mkdir()
    (profile / "Preferences").write_text(json.dumps({"profile": {"name": "Person 1"}, "session": {}}))
    (profile / "Secure Preferences").write_text(json.dumps({"protection": {}}))
    make_sqlite(profile / cookie_rel, "cookies", [("sandbox.test", b"\x01session", 1)])
    (profile / f"{cookie_rel}-journal").write_bytes(b"stale journal")
    make_sqlite(profile / "Login Data", "logins", [("https://sandbox.test", b"pw", 1)])
    make_sqlite(profile / "Web Data", "autofill", [("name", b"v", 2)])
    make_sqlite(profile / "History", "urls", [(f"https://x/{i}", b"", i) for i in range(50)])
    leveldb = profile / "Local Storage" / "leveldb"
    leveldb.mkdir(parents=True)
    for name, data in (
        ("000003.log", b"ls" * 100),
        ("CURRENT", b"MANIFEST-000001\n"),
        ("MANIFEST-000001", b"m"),
    ):
        (leveldb / name).write_bytes(data)
    (leveldb / "LOCK").write_bytes(b"")
    idb = profile / "IndexedDB" / "https_sandbox.test_0.indexeddb.leveldb"
    idb.mkdir(parents=True)
    (idb / "000005.ldb").write_bytes(b"token" * 50)
    (idb / "LOCK").write_bytes(b"")
    for cache in ("Cache/Cache_Data", "Code Cache/js", "GPUCache", "Service Worker/CacheStorage/abc"):
        (profile / cache).mkdir(parents=True)
        for i in range(5):
            (profile / cache / f"f_{i:06d}").write_bytes(os.urandom(1024))
    (profile / "Service Worker" / "Database").mkdir(parents=True)
    (profile / "Service Worker" / "Database" / "000001.log").write_bytes(b"sw")
    (profile / "link-to-elsewhere").symlink_to(root / "Profile 1")
    if lock_target is not None:
        (root / "SingletonLock").symlink_to(lock_target)
        (root / "SingletonCookie").symlink_to("123456")
        (root / "SingletonSocket").symlink_to("/tmp/org.chromium.Chromium.x/SingletonSocket")
    # Give everything an old, known mtime so a later touch would show.
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(
                Path(dirpath) / name,
                ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000),
                follow_symlinks=False,
            )
    os.utime(root, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return root


def tree_state(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every entry under `root` (root included): (content hash or link target, mtime_ns, mode)."""
    state: dict[str, tuple[str, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath) / name if name != "." else Path(dirpath)
            st = path.lstat()
            if path.is_symlink():
                content = "->" + str(path.readlink())
            elif path.is_file():
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                content = "dir"
            state[str(path.relative_to(root))] = (content, st.st_mtime_ns, st.st_mode)
    return state


def dead_pid() -> int:
    """The PID of a process that has ended."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(proc.stdout)
