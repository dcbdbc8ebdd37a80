"""Output folders as coupadl's first release (progress schema version 1) left them, for upgrade tests."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["V1Row", "write_v1_output"]

_DDL = Path(__file__).with_name("progress_v1.sql")


@dataclass(frozen=True)
class V1Row:
    """One PO row as version 1 recorded it."""

    digits: str
    status: str
    attempts: int = 1
    supplier: str | None = None
    names: Sequence[str] = ()
    error: str | None = None


def write_v1_output(out: Path, rows: Sequence[V1Row], *, fingerprint: str = "old") -> Path:
    """Write `<out>/.coupadl/progress.sqlite` with version 1's own DDL and these rows; returns its path."""
    path = out / ".coupadl" / "progress.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(_DDL.read_text(encoding="utf-8"))
        with conn:
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("input_fingerprint", fingerprint), ("started_at", "2026-01-05T09:00:00Z"),
                 ("finished_at", "2026-01-05T09:30:00Z")],
            )  # fmt: skip
            conn.executemany(
                """INSERT INTO pos (po, raw, display, status, supplier, attachment_names, attempts, worker,
                       error_message, last_processed) VALUES (?, ?, ?, ?, ?, ?, ?, 'A', ?, ?)""",
                [
                    (r.digits, f"PO{r.digits}", f"PO{r.digits}", r.status, r.supplier,
                     json.dumps(list(r.names)), r.attempts, r.error, "2026-01-05T09:10:00Z")
                    for r in rows
                ],
            )  # fmt: skip
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()
    return path
