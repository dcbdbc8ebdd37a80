"""Copying profiles: the once-per-run snapshot of the base, and clones of that snapshot.

The snapshot reads the base only: `Local State` and the other small top-level files, plus the one configured
profile folder, without caches, lock files and stale SQLite journals (facts/chromium-profiles.md). SQLite
databases go through Python's `sqlite3` backup API (a consistent copy); everything else through
`shutil.copy2`, metadata included. Symlinks are never copied: a link in a clone could lead a window's writes
back into the base.

Clones copy the private snapshot byte for byte, several files at once. Hard links are never used: a window
writing through a shared inode would change the snapshot and every other clone.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from coupadl.errors import CloneTimeoutError, InsufficientSpaceException
from coupadl.log import get_logger
from coupadl.profiles.checksums import is_sqlite, open_sqlite_readonly
from coupadl.profiles.markers import MARKER_PREFIX

__all__ = [
    "SESSION_ENTRIES",
    "SKIP_DIR_NAMES",
    "SKIP_FILE_NAMES",
    "SPACE_MARGIN_BYTES",
    "CopyPlan",
    "check_free_space",
    "copy_plan",
    "is_skipped",
    "plan_clone",
    "plan_snapshot",
]

log = get_logger(__name__)

SKIP_DIR_NAMES = frozenset(
    {
        "Cache",
        "Code Cache",
        "GPUCache",
        "GrShaderCache",
        "ShaderCache",
        "GraphiteDawnCache",
        "DawnCache",
        "DawnGraphiteCache",
        "DawnWebGPUCache",
        "GPUPersistentCache",
        "component_crx_cache",
        "CacheStorage",  # Service Worker/CacheStorage
        "Crashpad",
        "Crash Reports",
        "optimization_guide_model_store",
    }
)
"""Folders never copied, wherever they are: caches the browser rebuilds."""

SKIP_FILE_NAMES = frozenset({"lockfile", "LOCK", "DevToolsActivePort"})
"""Files never copied: lock files a running browser owns."""

SESSION_ENTRIES = frozenset({"Sessions", "Current Session", "Current Tabs", "Last Session", "Last Tabs"})
"""The profile folder's saved tabs (`Sessions/`, and the files older builds used): left out of the snapshot,
so clones, which restore the last session to load session cookies, reopen no page."""

_SKIP_PREFIXES = ("Singleton", "BrowserMetrics", MARKER_PREFIX)
_SKIP_SUFFIXES = ("-journal", "-wal", "-shm")

SPACE_MARGIN_BYTES = 128 * 1024 * 1024
"""Free space kept beyond the bytes to copy: the windows write caches into their clones."""

# Files copied at once inside one copy. Measured on Linux (2 cores, ext4 and tmpfs): threads only add GIL
# and scheduling cost; on Windows, per-file open/close costs (antivirus) make parallel copies pay off.
_COPY_THREADS = 4 if os.name == "nt" else 1
_FAST_COPY = sys.platform.startswith("linux")
_OWNER_RW = stat.S_IRUSR | stat.S_IWUSR


def is_skipped(name: str, *, is_dir: bool) -> bool:
    """True if a file or folder called `name` is left out of snapshots and clones."""
    if name.startswith(_SKIP_PREFIXES):
        return True
    if is_dir:
        return name in SKIP_DIR_NAMES
    return name in SKIP_FILE_NAMES or name.endswith(_SKIP_SUFFIXES)


@dataclass(frozen=True)
class CopyPlan:
    """What a copy will create: folders first, then files (relative POSIX paths), and the bytes involved."""

    dirs: tuple[str, ...]
    files: tuple[tuple[str, int], ...]
    skipped_links: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        """Sum of the files' sizes."""
        return sum(size for _, size in self.files)


def _walk(
    root: Path,
    rel: str,
    dirs: list[str],
    files: list[tuple[str, int]],
    links: list[str],
    leave_out: frozenset[str] = frozenset(),
) -> None:
    """Add what is under `root/rel` to the lists; names in `leave_out` are skipped directly under it."""
    folder = root / rel if rel else root
    with_prefix = f"{rel}/" if rel else ""
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name in leave_out:
            continue
        child = with_prefix + entry.name
        if entry.is_symlink():
            if not is_skipped(entry.name, is_dir=False):
                links.append(child)
            continue
        if entry.is_dir():
            if not is_skipped(entry.name, is_dir=True):
                dirs.append(child)
                _walk(root, child, dirs, files, links)
        elif entry.is_file() and not is_skipped(entry.name, is_dir=False):
            files.append((child, entry.stat().st_size))


def plan_snapshot(user_data_dir: Path, profile_name: str) -> CopyPlan:
    """The snapshot of a base: top-level files (`Local State`, ...) and the folder `profile_name` only,
    without its saved tabs (`SESSION_ENTRIES`)."""
    dirs: list[str] = []
    files: list[tuple[str, int]] = []
    links: list[str] = []
    for entry in sorted(user_data_dir.iterdir(), key=lambda p: p.name):
        if entry.is_symlink():
            if not is_skipped(entry.name, is_dir=False):
                links.append(entry.name)
        elif entry.is_file() and not is_skipped(entry.name, is_dir=False):
            files.append((entry.name, entry.stat().st_size))
    dirs.append(profile_name)
    _walk(user_data_dir, profile_name, dirs, files, links, SESSION_ENTRIES)
    return CopyPlan(tuple(dirs), tuple(files), tuple(links))


def plan_clone(snapshot_dir: Path) -> CopyPlan:
    """Everything in the snapshot except coupadl's markers."""
    dirs: list[str] = []
    files: list[tuple[str, int]] = []
    links: list[str] = []
    _walk(snapshot_dir, "", dirs, files, links)
    return CopyPlan(tuple(dirs), tuple(files), tuple(links))


def check_free_space(folder: Path, needed_bytes: int, what: str) -> None:
    """Raise `InsufficientSpaceException` unless `folder`'s disk has `needed_bytes` plus the margin free."""
    free = shutil.disk_usage(folder).free
    wanted = needed_bytes + SPACE_MARGIN_BYTES
    if free < wanted:
        raise InsufficientSpaceException(
            f"not enough disk space for {what} in {folder}: {wanted / 2**20:.0f} MiB needed, "
            f"{free / 2**20:.0f} MiB free; free some space or set TMPDIR to a larger disk"
        )


def _backup_sqlite(src: Path, dst: Path) -> None:
    """Consistent copy of a SQLite DB via the backup API; falls back to bytes if SQLite cannot read it."""
    try:
        with open_sqlite_readonly(src) as source:
            target = sqlite3.connect(dst)
            try:
                # No fsync per DB: a crash leaves the snapshot without its completion marker anyway.
                target.execute("PRAGMA synchronous = OFF")
                target.execute("PRAGMA journal_mode = OFF")
                source.backup(target)
            finally:
                target.close()
    except sqlite3.DatabaseError as exc:
        # E.g. a crash left a hot journal a read-only connection may not replay: the bytes are the best copy.
        log.warning("sqlite_backup_failed", file=str(src), error=str(exc))
        dst.unlink(missing_ok=True)
        shutil.copyfile(src, dst)
    for suffix in _SKIP_SUFFIXES:
        dst.with_name(dst.name + suffix).unlink(missing_ok=True)
    shutil.copystat(src, dst)


def _owner_writable(dst: Path) -> None:
    # A read-only file in a clone would stop the browser writing it and (on Windows) its removal.
    mode = stat.S_IMODE(dst.stat().st_mode)
    if mode & _OWNER_RW != _OWNER_RW:
        dst.chmod(mode | _OWNER_RW)


def _snapshot_file(src: Path, dst: Path) -> None:
    if is_sqlite(src):
        _backup_sqlite(src, dst)
    else:
        shutil.copy2(src, dst)
    _owner_writable(dst)


def _clone_file(src: Path, dst: Path) -> None:
    if not _FAST_COPY:
        shutil.copy2(src, dst)
        _owner_writable(dst)
        return
    # copy2's generic path costs ~15 system calls per file; a clone is hundreds of small files.
    fin = os.open(src, os.O_RDONLY)
    try:
        st = os.fstat(fin)
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            remaining = st.st_size
            while remaining > 0:
                sent = os.sendfile(fout, fin, None, remaining)
                if sent == 0:
                    break
                remaining -= sent
            os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def copy_plan(
    plan: CopyPlan,
    src_root: Path,
    dst_root: Path,
    *,
    sqlite_aware: bool,
    deadline: float | None = None,
    threads: int = _COPY_THREADS,
) -> int:
    """Copy `plan` from `src_root` into the existing `dst_root`; return the bytes copied.

    Args:
        plan: From `plan_snapshot` or `plan_clone`.
        src_root: Folder the plan was made from; only read.
        dst_root: Existing, empty destination folder.
        sqlite_aware: Copy SQLite databases with the backup API (snapshot of a base) instead of by bytes.
        deadline: `time.monotonic()` value after which `CloneTimeoutError` is raised between files.
        threads: Files copied at once.
    """
    for rel in plan.dirs:
        (dst_root / rel).mkdir(mode=0o700, exist_ok=True)
    copy_one: Callable[[Path, Path], None] = _snapshot_file if sqlite_aware else _clone_file

    def job(item: tuple[str, int]) -> int:
        if deadline is not None and time.monotonic() > deadline:
            raise CloneTimeoutError(f"copying into {dst_root} took longer than allowed")
        rel, size = item
        copy_one(src_root / rel, dst_root / rel)
        return size

    if threads <= 1 or len(plan.files) < 2 * threads:
        copied = sum(job(item) for item in plan.files)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="coupadl-copy") as pool:
            copied = sum(pool.map(job, plan.files))
    # Folder times only: folders stay owner-only whatever the base's modes are.
    for rel in reversed(plan.dirs):
        st = (src_root / rel).stat()
        os.utime(dst_root / rel, ns=(st.st_atime_ns, st.st_mtime_ns))
    return copied
