"""Benchmark: snapshot and clones of a realistic synthetic profile vs a naive full copy.

Builds a ~1 GB user-data-dir in a temp folder (nearly all of it cache, ~20 MB of state with SQLite DBs,
several thousand files), then times `ProfileManager.start()` (sweep + status + snapshot + VM-003), single
clones, 8 clones at once, and `shutil.copytree` of the whole profile. Cleans up after itself.

    python3 bench/clone.py [--cache-mb 1000] [--state-mb 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from coupadl.profiles import ProfileManager
from coupadl.settings import ProfilePolicy

TARGETS = {"snapshot": 1.0, "clone": 0.3, "eight": 2.0}


def _sqlite(path: Path, rows: int, blob: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, host TEXT, value BLOB, n INTEGER)")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('version', '21')")
        conn.executemany(
            "INSERT INTO t (host, value, n) VALUES (?, ?, ?)",
            ((f"host{i}.example", os.urandom(blob), i) for i in range(rows)),
        )
    conn.close()


def build(root: Path, cache_mb: int, state_mb: int) -> tuple[int, int]:
    """A realistic user-data-dir at `root`; returns (files, bytes)."""
    root.mkdir(parents=True)
    (root / "Local State").write_text(
        json.dumps({"os_crypt": {"encrypted_key": "x" * 400}, "profile": {"info_cache": {"Default": {}}}})
    )
    for name in ("First Run", "Last Version", "Last Browser", "Variations"):
        (root / name).write_bytes(os.urandom(2000))
    profile = root / "Default"
    profile.mkdir()
    (profile / "Preferences").write_text(json.dumps({"k": "v" * 100_000}))
    (profile / "Secure Preferences").write_text(json.dumps({"k": "v" * 20_000}))
    # State: SQLite DBs ~60 %, LevelDB/IndexedDB ~30 %, small files ~10 %.
    unit = state_mb * 2**20
    dbs = {
        "Network/Cookies": 0.08,
        "History": 0.25,
        "Web Data": 0.08,
        "Login Data": 0.03,
        "Favicons": 0.12,
        "Top Sites": 0.01,
        "Shortcuts": 0.01,
        "Network Action Predictor": 0.02,
    }
    for rel, share in dbs.items():
        rows = max(10, int(unit * share / 600))
        _sqlite(profile / rel, rows, 500)
    for folder, share, count in (
        ("Local Storage/leveldb", 0.12, 6),
        ("Session Storage", 0.05, 4),
        ("IndexedDB/https_app.example_0.indexeddb.leveldb", 0.13, 8),
    ):
        (profile / folder).mkdir(parents=True)
        for i in range(count):
            (profile / folder / f"{i:06d}.ldb").write_bytes(os.urandom(int(unit * share / count)))
        (profile / folder / "CURRENT").write_text("MANIFEST-000001\n")
        (profile / folder / "LOCK").write_bytes(b"")
    small = profile / "Extension State"
    small.mkdir()
    for i in range(300):  # the many small files of a real profile
        (small / f"{i:06d}.log").write_bytes(os.urandom(int(unit * 0.1 / 300)))
    # Caches: several thousand files, nearly all the bytes.
    caches = {
        "Cache/Cache_Data": 0.80,
        "Code Cache/js": 0.12,
        "GPUCache": 0.03,
        "Service Worker/CacheStorage/a": 0.05,
    }
    files_per_mb = 4
    for rel, share in caches.items():
        folder = profile / rel
        folder.mkdir(parents=True)
        mb = int(cache_mb * share)
        count = max(1, mb * files_per_mb)
        block = os.urandom(2**20 // files_per_mb)
        for i in range(count):
            (folder / f"f_{i:06x}").write_bytes(block)
    for rel in ("GrShaderCache", "ShaderCache", "component_crx_cache"):
        (root / rel).mkdir()
        (root / rel / "data_0").write_bytes(os.urandom(2**20))
    files = sum(len(f) for _, _, f in os.walk(root))
    size = sum((Path(d) / f).stat().st_size for d, _, fs in os.walk(root) for f in fs)
    return files, size


def create_latency(folder: Path, count: int = 300) -> tuple[float, float]:
    """(median, p90) seconds to create one new empty file in `folder`: the floor of any clone's time here."""
    probe = folder / "create-probe"
    probe.mkdir()
    times = []
    for i in range(count):
        t0 = time.perf_counter()
        os.close(os.open(probe / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        times.append(time.perf_counter() - t0)
    shutil.rmtree(probe)
    times.sort()
    return times[count // 2], times[count * 9 // 10]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-mb", type=int, default=1000)
    parser.add_argument("--state-mb", type=int, default=20)
    parser.add_argument("--clones", type=int, default=5, help="single clones to time one after another")
    parser.add_argument("--dir", type=Path, default=None, help="where to build the profile and clones")
    parser.add_argument("--threads", type=int, default=None, help="files copied at once inside one clone")
    args = parser.parse_args()
    if args.threads is not None:
        from coupadl.profiles import copying

        copying._COPY_THREADS = args.threads
        copying.copy_plan.__kwdefaults__["threads"] = args.threads

    work = Path(tempfile.mkdtemp(prefix="cb-", dir=args.dir))
    try:
        base = work / "User Data"
        started = time.perf_counter()
        files, size = build(base, args.cache_mb, args.state_mb)
        os.sync()
        print(
            f"profile: {files} files, {size / 2**20:.0f} MiB (built in {time.perf_counter() - started:.1f} s)"
        )

        median, p90 = create_latency(work)
        print(
            f"file-system probe: creating one empty file takes {median * 1e3:.2f} ms (median), "
            f"{p90 * 1e3:.2f} ms (p90)"
        )
        manager = ProfileManager(
            base, temp_directory=work / "t", max_concurrent_clones=8, policy=ProfilePolicy.ALL_CLONES
        )
        t0 = time.perf_counter()
        manager.start()
        snapshot_s = time.perf_counter() - t0
        snap_plan = manager._require_snapshot().plan
        print(
            f"snapshot (sweep + status + copy + VM-003): {snapshot_s:.3f} s, "
            f"{len(snap_plan.files)} files, {snap_plan.total_bytes / 2**20:.1f} MiB copied"
        )

        singles = []
        for worker_id in range(1, args.clones + 1):
            t0 = time.perf_counter()
            profile = manager.create_worker_profile(worker_id)
            singles.append(time.perf_counter() - t0)
            manager.cleanup_profile(profile)
        print(
            f"one clone (copy + VM-003 + marker): mean {statistics.mean(singles):.3f} s, "
            f"max {max(singles):.3f} s over {len(singles)}; {snap_plan.total_bytes / 2**20:.1f} MiB each"
        )

        t0 = time.perf_counter()
        eight = manager.create_worker_profiles(range(1, 9))
        eight_s = time.perf_counter() - t0
        print(f"8 clones at once: {eight_s:.3f} s ({8 * snap_plan.total_bytes / 2**20:.0f} MiB)")
        for profile in eight:
            manager.cleanup_profile(profile)
        manager.shutdown()

        t0 = time.perf_counter()
        shutil.copytree(base, work / "naive", symlinks=True)
        naive_s = time.perf_counter() - t0
        print(f"naive shutil.copytree of the whole profile: {naive_s:.3f} s ({size / 2**20:.0f} MiB)")

        ok = (
            snapshot_s <= TARGETS["snapshot"]
            and max(singles) <= TARGETS["clone"]
            and eight_s <= TARGETS["eight"]
        )
        print("targets (snapshot <= 1 s, clone <= 0.3 s, 8 at once <= 2 s):", "met" if ok else "MISSED")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
