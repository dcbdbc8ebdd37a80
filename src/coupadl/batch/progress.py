"""Durable progress of a run: one SQLite file under `<out>/.coupadl/`, so rerunning the same command resumes.

Long because `ProgressStore` is one job, the store's whole API (lock, run, queue, outcomes, saved files).

Every change is committed before the method returns (WAL, `synchronous=FULL`): a crash or `kill -9` loses
nothing that was recorded. Only the main process writes the store; workers report to it.

Resuming: POs in a final status (`POStatus.is_final`) are not handed out again; PENDING, FAILED and PARTIAL
ones are, and so are POs that were in flight when a run died ("reclaim what was in flight").

A lock file refuses a second run on the same output folder while one is running; the lock goes with its
process, even when that process is killed. The file's schema, its versions and their migrations are in
`coupadl.batch.progress_db`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import filelock

from coupadl.batch.progress_db import ProgressCorruptError, machine_fault_of, open_database
from coupadl.coupa.po import PONumber, POStatus, SavedFile
from coupadl.errors import ConfigError
from coupadl.faults import raise_machine_fault

__all__ = [
    "OutputInUseError",
    "POOutcome",
    "POProgress",
    "ProgressCorruptError",
    "ProgressStore",
    "RunInfo",
    "SavedFile",
    "iso_utc",
    "state_dir",
    "utc_now",
]

STATE_DIR = ".coupadl"
DB_NAME = "progress.sqlite"
LOCK_NAME = "run.lock"


class OutputInUseError(ConfigError):
    """Another `coupadl run` is using the same output folder."""


def utc_now() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def iso_utc(moment: datetime | None) -> str:
    """ISO 8601 in UTC with a `Z`, e.g. `2025-03-01T09:30:00Z`; empty for `None`."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def state_dir(out: Path) -> Path:
    """The folder under `out` that holds the progress database and the run lock."""
    return out / STATE_DIR


@dataclass(frozen=True)
class POOutcome:
    """The result of one attempt at a PO, as a worker reports it.

    Attributes:
        status: Anything but PENDING (use `ProgressStore.release` to hand a PO back untouched).
        supplier: The supplier's name shown on the PO page.
        attachments_found: How many attachments the PO (or its requisition) lists.
        attachments_downloaded: How many are saved (this run and earlier ones).
        attachment_names: The saved file names.
        download_folder: The absolute path of the PO's folder.
        coupa_url: The page visited.
        worker: The window that did the work, e.g. `A`.
        error_message: What went wrong, for FAILED / PARTIAL / PO_NOT_FOUND.
    """

    status: POStatus
    supplier: str | None = None
    attachments_found: int | None = None
    attachments_downloaded: int | None = None
    attachment_names: Sequence[str] = field(default_factory=tuple)
    download_folder: str | None = None
    coupa_url: str | None = None
    worker: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class POProgress:
    """What the store knows about one PO."""

    po: PONumber
    status: POStatus
    supplier: str | None
    attachments_found: int | None
    attachments_downloaded: int | None
    attachment_names: tuple[str, ...]
    download_folder: str | None
    coupa_url: str | None
    attempts: int
    worker: str | None
    error_message: str | None
    last_processed: datetime | None
    in_flight: bool


@dataclass(frozen=True)
class RunInfo:
    """Metadata of the run that opened the store.

    Attributes:
        input_path: The PO list of this run.
        input_fingerprint: Its SHA-256.
        previous_fingerprint: The fingerprint recorded by the run this one resumes; `None` for a new store.
        started_at: When this run opened the store.
        finished_at: When it called `finish_run`, if it did.
        resumed: Whether earlier progress was kept.
    """

    input_path: str
    input_fingerprint: str
    previous_fingerprint: str | None
    started_at: datetime
    finished_at: datetime | None
    resumed: bool


class ProgressStore:
    """The run's progress, durable in `<out>/.coupadl/progress.sqlite`. Open it with `ProgressStore.open`."""

    def __init__(self, conn: sqlite3.Connection, lock: filelock.BaseFileLock, path: Path) -> None:
        """Wrap an open, locked connection; use `ProgressStore.open` instead."""
        self._conn: sqlite3.Connection | None = conn
        self._lock = lock
        self._mutex = threading.Lock()
        self.path = path

    # --- lifecycle ---------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        out: Path,
        input_fingerprint: str,
        fresh: bool = False,
        *,
        input_path: Path | str = "",
    ) -> ProgressStore:
        """Lock the output folder and open (or create) its progress store.

        Args:
            out: The run's output root; created if missing.
            input_fingerprint: The PO list's fingerprint (`POList.fingerprint`), kept as run metadata.
            fresh: Start over: forget every PO's status and the saved-files record. Downloaded files stay.
            input_path: The PO list's path, kept as run metadata.

        Returns:
            The open store; close it (or use it as a context manager) to release the lock.

        Raises:
            OutputInUseError: Another run holds `out`.
            ProgressCorruptError: The database cannot be read and `fresh` was not asked for.
        """
        folder = state_dir(out)
        lock = filelock.FileLock(folder / LOCK_NAME, timeout=0)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except filelock.Timeout:
            raise OutputInUseError(
                f"another coupadl run is already using the output folder {out} (lock: {lock.lock_file})"
            ) from None
        except OSError as exc:
            raise_machine_fault(exc, out)
            raise
        path = folder / DB_NAME
        try:
            conn = open_database(path, fresh=fresh)
            store = cls(conn, lock, path)
            store._start_run(input_path=str(input_path), fingerprint=input_fingerprint, fresh=fresh)
        except BaseException:
            lock.release()
            raise
        return store

    def close(self) -> None:
        """Close the database and release the output folder's lock. Safe to call twice."""
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        if self._lock.is_locked:
            self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction. A full disk or a vanished folder raises `MachineFaultError`; SQLite has rolled
        the transaction back, so the file keeps the last committed state and a rerun opens it as it was."""
        with self._mutex:
            if self._conn is None:
                raise RuntimeError("the progress store is closed")
            try:
                with self._conn:  # commits on success, rolls back on error
                    yield self._conn
            except sqlite3.DatabaseError as exc:
                fault = machine_fault_of(exc, self.path)
                if fault is not None:
                    raise fault from exc
                raise

    def _start_run(self, *, input_path: str, fingerprint: str, fresh: bool) -> None:
        with self._tx() as conn:
            if fresh:
                conn.execute("DELETE FROM pos")
                conn.execute("DELETE FROM files")
                conn.execute("DELETE FROM meta")
            previous = conn.execute("SELECT value FROM meta WHERE key = 'input_fingerprint'").fetchone()
            resumed = conn.execute("SELECT COUNT(*) FROM pos").fetchone()[0] > 0
            # Whatever was in flight when the last run died goes back to the queue (its attempt still counts).
            conn.execute("UPDATE pos SET in_flight = 0 WHERE in_flight = 1")
            values = {
                "input_path": input_path,
                "input_fingerprint": fingerprint,
                "previous_fingerprint": previous[0] if previous else "",
                "started_at": iso_utc(utc_now()),
                "finished_at": "",
                "resumed": "1" if resumed else "0",
            }
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    def finish_run(self) -> None:
        """Record that the run ended (any way but a crash)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('finished_at', ?)", (iso_utc(utc_now()),)
            )

    @property
    def run_info(self) -> RunInfo:
        """The metadata of the current run."""
        with self._tx() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        started = _parse_iso(meta.get("started_at"))
        return RunInfo(
            input_path=meta.get("input_path", ""),
            input_fingerprint=meta.get("input_fingerprint", ""),
            previous_fingerprint=meta.get("previous_fingerprint") or None,
            started_at=started or utc_now(),
            finished_at=_parse_iso(meta.get("finished_at")),
            resumed=meta.get("resumed") == "1",
        )

    # --- POs ---------------------------------------------------------------------------------------------

    def register(self, pos: Iterable[PONumber]) -> None:
        """Add POs not known yet as PENDING; known ones keep their state.

        Args:
            pos: The valid POs of the input (`POList.pos`).
        """
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO pos (po, raw, display, status) VALUES (?, ?, ?, ?)",
                ((po.digits, po.raw, po.display, POStatus.PENDING.value) for po in pos),
            )

    def todo(self, pos: Iterable[PONumber] | None = None) -> list[PONumber]:
        """The POs that still need work: not in a final status.

        Args:
            pos: Restrict to these POs and keep their order (POs unknown to the store count as PENDING).
                `None`: every registered PO, in registration order.

        Returns:
            The POs to process.
        """
        with self._tx() as conn:
            rows = conn.execute("SELECT po, raw, display, status FROM pos ORDER BY rowid").fetchall()
        known = {
            digits: (PONumber(raw, digits, display), POStatus(status))
            for digits, raw, display, status in rows
        }
        if pos is None:
            return [po for po, status in known.values() if not status.is_final]
        return [po for po in pos if po.digits not in known or not known[po.digits][1].is_final]

    def mark_started(self, po: PONumber, worker: str) -> int:
        """Record that a worker took the PO (counts an attempt).

        Args:
            po: The PO.
            worker: The window's id.

        Returns:
            The number of attempts so far, across runs, this one included.

        Raises:
            ValueError: The PO is already final.
        """
        with self._tx() as conn:
            self._ensure_row(conn, po)
            self._refuse_final(conn, po)
            conn.execute(
                "UPDATE pos SET attempts = attempts + 1, worker = ?, in_flight = 1 WHERE po = ?",
                (worker, po.digits),
            )
            return int(conn.execute("SELECT attempts FROM pos WHERE po = ?", (po.digits,)).fetchone()[0])

    def release(self, po: PONumber) -> None:
        """Hand a started PO back untouched (e.g. the session expired): not in flight, attempt refunded."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE pos SET in_flight = 0, attempts = MAX(attempts - 1, 0)"
                " WHERE po = ? AND in_flight = 1",
                (po.digits,),
            )

    def record(self, po: PONumber, outcome: POOutcome) -> None:
        """Store the outcome of an attempt.

        Args:
            po: The PO.
            outcome: What happened.

        Raises:
            ValueError: The outcome is PENDING, or the PO is already final (final statuses never change).
        """
        if outcome.status is POStatus.PENDING:
            raise ValueError("PENDING is not an outcome; use release() to hand a PO back")
        with self._tx() as conn:
            self._ensure_row(conn, po)
            self._refuse_final(conn, po)
            conn.execute(
                """UPDATE pos SET status = ?, supplier = ?, attachments_found = ?, attachments_downloaded = ?,
                       attachment_names = ?, download_folder = ?, coupa_url = ?,
                       worker = COALESCE(?, worker), error_message = ?, last_processed = ?, in_flight = 0
                   WHERE po = ?""",
                (
                    outcome.status.value,
                    outcome.supplier,
                    outcome.attachments_found,
                    outcome.attachments_downloaded,
                    json.dumps(list(outcome.attachment_names), ensure_ascii=False),
                    outcome.download_folder,
                    outcome.coupa_url,
                    outcome.worker,
                    outcome.error_message,
                    iso_utc(utc_now()),
                    po.digits,
                ),
            )

    def get(self, po: PONumber | str) -> POProgress | None:
        """The stored state of one PO (by `PONumber` or its digits), or `None` if unknown."""
        digits = po.digits if isinstance(po, PONumber) else po
        with self._tx() as conn:
            row = conn.execute(f"SELECT {_PO_COLUMNS} FROM pos WHERE po = ?", (digits,)).fetchone()  # noqa: S608
        return _progress(row) if row else None

    def all(self) -> dict[str, POProgress]:
        """Every PO's stored state, keyed by digits, in registration order."""
        with self._tx() as conn:
            rows = conn.execute(f"SELECT {_PO_COLUMNS} FROM pos ORDER BY rowid").fetchall()  # noqa: S608
        return {row[0]: _progress(row) for row in rows}

    @staticmethod
    def _ensure_row(conn: sqlite3.Connection, po: PONumber) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO pos (po, raw, display, status) VALUES (?, ?, ?, ?)",
            (po.digits, po.raw, po.display, POStatus.PENDING.value),
        )

    @staticmethod
    def _refuse_final(conn: sqlite3.Connection, po: PONumber) -> None:
        status = POStatus(conn.execute("SELECT status FROM pos WHERE po = ?", (po.digits,)).fetchone()[0])
        if status.is_final:
            raise ValueError(f"{po.display} is already {status.value}; final statuses do not change")

    # --- saved files -------------------------------------------------------------------------------------

    def add_file(self, po: PONumber, attachment_key: str, saved_name: str, size: int, sha256: str) -> None:
        """Record an attachment saved to disk, so a rerun does not save it again.

        Args:
            po: The PO it belongs to.
            attachment_key: What identifies the attachment on the site (source URL or id).
            saved_name: The file name it was saved under, in the PO's folder.
            size: Its size in bytes.
            sha256: Its SHA-256, hex.
        """
        with self._tx() as conn:
            conn.execute(
                """INSERT OR REPLACE INTO files (po, attachment_key, saved_name, size, sha256, saved_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (po.digits, attachment_key, saved_name, size, sha256, iso_utc(utc_now())),
            )

    def saved_file(self, po: PONumber, attachment_key: str) -> SavedFile | None:
        """The record of an attachment already saved for this PO, or `None`."""
        with self._tx() as conn:
            row = conn.execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE po = ? AND attachment_key = ?",  # noqa: S608
                (po.digits, attachment_key),
            ).fetchone()
        return _saved(row) if row else None

    def files(self, po: PONumber) -> list[SavedFile]:
        """Every attachment saved for this PO, in the order they were saved."""
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE po = ? ORDER BY rowid",  # noqa: S608
                (po.digits,),
            ).fetchall()
        return [_saved(row) for row in rows]


# --- rows ------------------------------------------------------------------------------------------------

_PO_COLUMNS = (
    "po, raw, display, status, supplier, attachments_found, attachments_downloaded, attachment_names, "
    "download_folder, coupa_url, attempts, worker, error_message, last_processed, in_flight"
)
_FILE_COLUMNS = "po, attachment_key, saved_name, size, sha256, saved_at"


def _progress(row: tuple[object, ...]) -> POProgress:
    (digits, raw, display, status, supplier, found, downloaded, names, folder, url, attempts, worker, error,
     last, in_flight) = row  # fmt: skip
    return POProgress(
        po=PONumber(raw=str(raw), digits=str(digits), display=str(display)),
        status=POStatus(str(status)),
        supplier=_opt_str(supplier),
        attachments_found=_opt_int(found),
        attachments_downloaded=_opt_int(downloaded),
        attachment_names=tuple(json.loads(str(names))),
        download_folder=_opt_str(folder),
        coupa_url=_opt_str(url),
        attempts=int(str(attempts)),
        worker=_opt_str(worker),
        error_message=_opt_str(error),
        last_processed=_parse_iso(_opt_str(last)),
        in_flight=bool(in_flight),
    )


def _saved(row: tuple[object, ...]) -> SavedFile:
    _po, key, name, size, sha, saved_at = row
    return SavedFile(
        key=str(key),
        name=str(name),
        size=int(str(size)),
        sha256=str(sha),
        saved_at=_parse_iso(str(saved_at)) or utc_now(),
    )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: object) -> int | None:
    return None if value is None else int(str(value))
