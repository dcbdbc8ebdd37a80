"""The run's snapshot of the base, and clones made from it (never from the base).

A snapshot is taken once per run from the quiescent base, checked against it (VM-003: SQLite by content,
other files by bytes) and marked complete; its byte checksums of the key artifacts travel in its completion
marker so that a worker process attaching to it can check its own clones.

The snapshot is the clones' template: once it matches the base, the clone-only settings
(`preferences.CLONE_PREFERENCES`) are written into its `Preferences`, and only then are its checksums taken,
so every clone holds them before its browser starts and still matches the snapshot byte for byte.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from coupadl.errors import (
    FileVerificationException,
    InsufficientSpaceException,
    PermissionDeniedException,
    ProfileOperationError,
)
from coupadl.profiles.checksums import (
    compare_checksums,
    file_sha256,
    is_sqlite,
    key_artifacts,
    sqlite_content_sha256,
)
from coupadl.profiles.copying import CopyPlan, check_free_space, copy_plan, plan_clone, plan_snapshot
from coupadl.profiles.markers import FolderKind, read_complete, write_complete, write_owner
from coupadl.profiles.preferences import CLONE_PREFERENCES, apply_preferences
from coupadl.profiles.session_cookies import persist_session_cookies

__all__ = ["Snapshot", "byte_checksums", "content_checksums", "copy_clone", "take_snapshot"]


def byte_checksums(user_data_dir: Path, rels: list[str]) -> dict[str, str]:
    """SHA-256 of the bytes of each existing `rels` file."""
    return {rel: file_sha256(user_data_dir / rel) for rel in rels if (user_data_dir / rel).is_file()}


def content_checksums(user_data_dir: Path, rels: list[str]) -> dict[str, str]:
    """Like `byte_checksums`, but SQLite files by content (`sqlite_content_sha256`)."""
    sums: dict[str, str] = {}
    for rel in rels:
        path = user_data_dir / rel
        if path.is_file():
            sums[rel] = sqlite_content_sha256(path) if is_sqlite(path) else file_sha256(path)
    return sums


@dataclass(frozen=True)
class Snapshot:
    """A complete, checked snapshot folder and what clones of it must match."""

    path: Path
    profile_name: str
    checksums: MappingProxyType[str, str]  # byte SHA-256 of the key artifacts, relative POSIX paths
    plan: CopyPlan

    @property
    def total_bytes(self) -> int:
        """Bytes one clone copies."""
        return self.plan.total_bytes

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        """Attach to an existing snapshot (e.g. from a worker process).

        Raises:
            ProfileOperationError: `path` is not a complete snapshot.
        """
        record = read_complete(path)
        if record is None or not isinstance(record.get("checksums"), dict):
            raise ProfileOperationError(f"{path} is not a complete snapshot (no completion marker)")
        return cls(
            path=path,
            profile_name=str(record["profile_name"]),
            checksums=MappingProxyType({str(k): str(v) for k, v in record["checksums"].items()}),
            plan=plan_clone(path),
        )


def translate_os_error(exc: OSError, what: str) -> ProfileOperationError | PermissionDeniedException:
    """A disk-full, permission or other file-system error while `what`, as the profile error to raise."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientSpaceException(f"the disk filled up while {what}: free some space or set TMPDIR")
    if isinstance(exc, PermissionError):
        return PermissionDeniedException(f"permission denied while {what}: {exc.filename or ''}".rstrip(": "))
    return ProfileOperationError(f"{what} failed: {exc}")


def take_snapshot(user_data_dir: Path, profile_name: str, dest: Path) -> Snapshot:
    """Copy the base into the new folder `dest` (created owner-only) and check it (VM-003).

    The base is only read. Raises `InsufficientSpaceException` before copying if the disk is too full,
    `PermissionDeniedException` if the base cannot be read, `ProfileOperationError` if the copy differs from
    the base (a browser wrote to it meanwhile). `dest` is left for the caller to remove on failure.
    """
    try:
        plan = plan_snapshot(user_data_dir, profile_name)
        check_free_space(dest.parent, plan.total_bytes, "the profile snapshot")
        dest.mkdir(mode=0o700)
        write_owner(dest, FolderKind.SNAPSHOT)
        copy_plan(plan, user_data_dir, dest, sqlite_aware=True)
        rels = key_artifacts(user_data_dir, profile_name)
        problems = compare_checksums(content_checksums(user_data_dir, rels), content_checksums(dest, rels))
        if problems:
            raise ProfileOperationError(
                f"snapshot of {user_data_dir} differs from it ({'; '.join(problems)}): "
                "was a browser running on it? close it and retry"
            )
        apply_preferences(dest, profile_name, CLONE_PREFERENCES)
        persist_session_cookies(dest, profile_name)  # clones start on about:blank, no restore
        checksums = byte_checksums(dest, key_artifacts(dest, profile_name))
    except OSError as exc:
        raise translate_os_error(exc, f"copying {user_data_dir}") from exc
    snap_plan = plan_clone(dest)
    record: dict[str, Any] = {
        "profile_name": profile_name,
        "checksums": checksums,
        "files": len(snap_plan.files),
        "bytes": snap_plan.total_bytes,
        "source": str(user_data_dir),
    }
    write_complete(dest, record)  # last: only now is the snapshot usable
    return Snapshot(dest, profile_name, MappingProxyType(checksums), snap_plan)


def copy_clone(snapshot: Snapshot, dest: Path, deadline: float | None = None) -> dict[str, str]:
    """Fill the existing, empty `dest` from `snapshot` and check its key artifacts by bytes.

    Returns the clone's checksums. Does NOT write the completion marker: the caller does, last.

    Raises:
        FileVerificationException: A key artifact is missing or differs after copying.
        CloneTimeoutError: `deadline` (a `time.monotonic()` value) passed.
        OSError: The copy failed (retry).
    """
    copy_plan(snapshot.plan, snapshot.path, dest, sqlite_aware=False, deadline=deadline)
    sums = byte_checksums(dest, list(snapshot.checksums))
    problems = compare_checksums(snapshot.checksums, sums)
    if problems:
        raise FileVerificationException(f"clone {dest} differs from the snapshot: {'; '.join(problems)}")
    return sums
