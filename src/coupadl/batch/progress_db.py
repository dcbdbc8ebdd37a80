"""The progress database's file: its schema and versions, the connection's durability, and which SQLite errors
are a machine fault rather than a damaged database.

Schema versions (`PRAGMA user_version`), each older one migrated in place when a store is opened:

- 1: the first release.
- 2: `NO_ATTACHMENTS` is only recorded with its evidence (the settled page) in `error_message`. POs that
  version 1 recorded `NO_ATTACHMENTS` go back to `PENDING` (their evidence was never kept), so the next run
  visits them once more; `meta.migrated_from_1` counts them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from coupadl.coupa.po import POStatus
from coupadl.errors import ConfigError, MachineFaultError
from coupadl.faults import disk_full, folder_gone, machine_fault

__all__ = [
    "REVISITED_MESSAGE",
    "SCHEMA_VERSION",
    "ProgressCorruptError",
    "machine_fault_of",
    "open_database",
]

SCHEMA_VERSION = 2
REVISITED_MESSAGE = "NO_ATTACHMENTS from an older coupadl, which kept no evidence: to be visited again"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pos (
    po                     TEXT PRIMARY KEY,      -- the PO's digits
    raw                    TEXT NOT NULL,
    display                TEXT NOT NULL,
    status                 TEXT NOT NULL,
    supplier               TEXT,
    attachments_found      INTEGER,
    attachments_downloaded INTEGER,
    attachment_names       TEXT NOT NULL DEFAULT '[]',   -- JSON list of saved names
    download_folder        TEXT,
    coupa_url              TEXT,
    attempts               INTEGER NOT NULL DEFAULT 0,   -- across all runs
    worker                 TEXT,
    error_message          TEXT,
    last_processed         TEXT,                  -- ISO 8601 UTC
    in_flight              INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    po             TEXT NOT NULL,
    attachment_key TEXT NOT NULL,                 -- source URL or attachment id
    saved_name     TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    saved_at       TEXT NOT NULL,
    PRIMARY KEY (po, attachment_key)
);
"""


class ProgressCorruptError(ConfigError):
    """The progress database under the output folder cannot be read."""


def open_database(path: Path, *, fresh: bool) -> sqlite3.Connection:
    """Open (or create) the progress database at `path`, migrated to `SCHEMA_VERSION`.

    Raises:
        MachineFaultError: The disk is full or the folder is gone.
        ProgressCorruptError: The database cannot be read and `fresh` was not asked for (with `fresh`, a
            damaged database is deleted and made anew: it holds nothing worth keeping).
    """
    try:
        return _connect(path)
    except sqlite3.DatabaseError as exc:
        fault = machine_fault_of(exc, path)
        if fault is not None:  # a full disk is not a damaged database: never advise --fresh for it
            raise fault from exc
        if not fresh:
            raise ProgressCorruptError(
                f"the progress database {path} cannot be read ({exc}); rerun with --fresh to start over"
            ) from None
    # --fresh on a damaged database: it holds nothing worth keeping.
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return _connect(path)


# SQLite's primary result codes that mean the disk, not the database (sqlite.org/rescode.html).
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14


def machine_fault_of(exc: sqlite3.DatabaseError, db_path: Path) -> MachineFaultError | None:
    """The machine fault behind a SQLite error on the store at `db_path`, named by the output folder."""
    out = db_path.parent.parent
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_FULL or "disk is full" in str(exc):
        return disk_full(out)
    if primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
        if not db_path.parent.is_dir():
            return folder_gone(out)
        return machine_fault(OSError(0, str(exc)), out) or MachineFaultError(
            f"the progress database {db_path} cannot be written ({exc})",
            folder=str(out),
            hint="check the disk holding it, then rerun the same command: it resumes where it stopped",
        )
    return None


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, *_MIGRATIONS, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION} or older")
        conn.executescript(_SCHEMA)
        with conn:  # one transaction: a crash mid-migration leaves the old version whole
            if version:
                for step in range(version, SCHEMA_VERSION):
                    _MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 said NO_ATTACHMENTS without proof that the page had settled: look at those POs again."""
    cursor = conn.execute(
        "UPDATE pos SET status = ?, error_message = ? WHERE status = ?",
        (POStatus.PENDING.value, REVISITED_MESSAGE, POStatus.NO_ATTACHMENTS.value),
    )
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('migrated_from_1', ?)", (str(cursor.rowcount),)
    )


_MIGRATIONS = {1: _migrate_1_to_2}
"""Schema version → the step that brings a store of that version to the next one."""
