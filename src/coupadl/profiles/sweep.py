"""Removing coupadl's temp folders, and only those: guarded removal, waiting for browsers, orphan sweep.

Every removal goes through `remove_guarded`, which refuses a path that is not strictly inside the temp root,
carries no owner marker, is a symlink, or is, contains or lies inside a protected path (the base profile).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from tenacity import retry, retry_if_exception_type, stop_after_attempt

from coupadl.errors import ProfileOperationError
from coupadl.log import get_logger
from coupadl.profiles.locks import LockState, read_singleton_lock
from coupadl.profiles.markers import OWNER_MARKER, FolderKind, read_owner
from coupadl.retrying import backoff

__all__ = ["SweepReport", "UnsafeRemovalError", "remove_guarded", "sweep_orphans", "wait_for_exit"]

log = get_logger(__name__)


class UnsafeRemovalError(ProfileOperationError):
    """A removal was refused because the path is not a coupadl temp folder (or touches the base)."""


def _check_removable(path: Path, temp_root: Path, protected: Iterable[Path]) -> Path:
    if path.is_symlink():
        raise UnsafeRemovalError(f"refusing to remove {path}: it is a symlink")
    resolved = path.resolve()
    root = temp_root.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise UnsafeRemovalError(f"refusing to remove {path}: not inside the temp folder {root}")
    for guarded in protected:
        g = guarded.resolve()
        if resolved == g or resolved.is_relative_to(g) or g.is_relative_to(resolved):
            raise UnsafeRemovalError(f"refusing to remove {path}: it is, holds or lies inside the base {g}")
    if not (resolved / OWNER_MARKER).is_file():
        raise UnsafeRemovalError(f"refusing to remove {path}: no coupadl owner marker in it")
    return resolved


@retry(
    retry=retry_if_exception_type(OSError),
    stop=stop_after_attempt(4),
    wait=backoff(0.1, 1.0),
    reraise=True,
)
def _rmtree(path: Path) -> None:
    # Retried: browser helpers that linger a second after quit may still create files while we delete.
    shutil.rmtree(path)


def remove_guarded(path: Path, *, temp_root: Path, protected: Iterable[Path] = ()) -> bool:
    """Remove the coupadl temp folder `path`; False if it was already gone.

    Args:
        path: A run, snapshot or clone folder.
        temp_root: The only tree removals may happen in.
        protected: Paths that must survive whatever happens (the base user-data-dir).

    Raises:
        UnsafeRemovalError: `path` fails a guard; nothing was removed.
        OSError: Removal failed after retries.
    """
    if not path.exists() and not path.is_symlink():
        return False
    resolved = _check_removable(path, temp_root, list(protected))
    _rmtree(resolved)
    return True


def wait_for_exit(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait up to `timeout` seconds for the processes `pids` to end; return those still running.

    Never kills anything: ending the browser is the browser layer's job.
    """
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    if not procs:
        return []
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return sorted(p.pid for p in alive)


@dataclass
class SweepReport:
    """What `sweep_orphans` removed, kept, and left alone (with why)."""

    removed: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _browser_running_in(folder: Path) -> bool:
    """True if a live browser of this host holds a user-data-dir inside `folder` (or `folder` itself)."""
    candidates = [folder, *(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())]
    for candidate in candidates:
        lock = read_singleton_lock(candidate)
        if lock is not None and lock.state is not LockState.STALE:
            return True
    return False


def sweep_orphans(temp_root: Path, *, protected: Iterable[Path] = ()) -> SweepReport:
    """Remove run folders whose owner process is dead, and dead workers' clones inside live runs.

    A folder stays when its owner lives, when a browser still runs on it, or when it carries no readable
    owner marker (it may not be coupadl's). One folder that cannot be removed does not stop the sweep.
    Used at every start and by `coupadl clean`.
    """
    report = SweepReport()
    guarded = list(protected)
    if not temp_root.is_dir():
        return report
    for run_dir in sorted(temp_root.iterdir()):
        if run_dir.is_symlink() or not run_dir.is_dir():
            continue
        owner = read_owner(run_dir)
        if owner is None or owner.kind is not FolderKind.RUN:
            report.skipped.append((run_dir, "no coupadl run marker"))
        elif owner.is_alive():
            report.kept.append(run_dir)
            _sweep_dead_clones(run_dir, temp_root, guarded, owner.pid, report)
        else:
            _remove_orphan(run_dir, owner.pid, temp_root, guarded, report)
    return report


def _sweep_dead_clones(
    run_dir: Path, temp_root: Path, guarded: list[Path], run_pid: int, report: SweepReport
) -> None:
    for clone in sorted(run_dir.iterdir()):
        if clone.is_symlink() or not clone.is_dir():
            continue
        owner = read_owner(clone)
        if owner is None or owner.kind is not FolderKind.CLONE or owner.pid == run_pid or owner.is_alive():
            continue
        _remove_orphan(clone, owner.pid, temp_root, guarded, report)


def _remove_orphan(
    folder: Path, owner_pid: int, temp_root: Path, guarded: list[Path], report: SweepReport
) -> None:
    """Remove one folder whose owner is dead, unless a browser still runs on it; report what happened."""
    try:
        if _browser_running_in(folder):
            report.skipped.append((folder, "a browser still runs on it"))
        elif remove_guarded(folder, temp_root=temp_root, protected=guarded):
            report.removed.append(folder)
            log.info("orphan_removed", path=str(folder), owner_pid=owner_pid)
    except (OSError, ProfileOperationError) as exc:
        report.skipped.append((folder, str(exc)))
