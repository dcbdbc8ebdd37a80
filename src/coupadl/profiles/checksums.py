"""VM-003: SHA-256 of the key profile artifacts, by bytes or, for SQLite, by content.

A SQLite file copied with the backup API can differ from its source in header bytes (change counter,
journal bytes) while holding exactly the same data, so base-vs-snapshot compares SQLite files by a canonical
content hash. Snapshot-vs-clone is a byte copy and compares bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = [
    "SQLITE_HEADER",
    "compare_checksums",
    "file_sha256",
    "find_cookie_db",
    "is_sqlite",
    "key_artifacts",
    "open_sqlite_readonly",
    "sqlite_content_sha256",
]

SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite(path: Path) -> bool:
    """True if `path` starts with the SQLite 3 header."""
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def find_cookie_db(profile_dir: Path) -> Path | None:
    """The profile's cookie DB: `Network/Cookies` on most builds, `Cookies` on some (Debian's Chromium)."""
    for rel in ("Network/Cookies", "Cookies"):
        candidate = profile_dir / rel
        if candidate.is_file():
            return candidate
    return None


def key_artifacts(user_data_dir: Path, profile_name: str) -> list[str]:
    """Relative POSIX paths of the key artifacts present in `user_data_dir` (the VM-003 set)."""
    profile = user_data_dir / profile_name
    rels = ["Local State", f"{profile_name}/Preferences"]
    cookies = find_cookie_db(profile)
    if cookies is not None:
        rels.append(cookies.relative_to(user_data_dir).as_posix())
    rels += [f"{profile_name}/Login Data", f"{profile_name}/Web Data"]
    return [rel for rel in rels if (user_data_dir / rel).is_file()]


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


_SIDECARS = ("-journal", "-wal")


@contextlib.contextmanager
def open_sqlite_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that reads `path` without ever writing it or anything next to it.

    Without a journal or WAL beside it, the file is opened immutable: a plain read-only connection to a
    WAL-mode database (Chromium's DIPS, for one) would create `-wal` and `-shm` files next to it, i.e. in
    the operator's profile. With one (a crash, or a browser that has it open), the DB and its journal are
    copied to a private scratch folder and read there, where SQLite may replay them.

    Raises:
        sqlite3.DatabaseError: Not a readable SQLite database.
    """
    if not any(path.with_name(path.name + s).exists() for s in _SIDECARS):
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            yield conn
        finally:
            conn.close()
        return
    with tempfile.TemporaryDirectory(prefix="coupadl-sqlite-") as scratch:
        copy = Path(scratch) / path.name
        shutil.copyfile(path, copy)
        for suffix in _SIDECARS:
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists():
                shutil.copyfile(sidecar, copy.with_name(copy.name + suffix))
        conn = sqlite3.connect(copy)
        try:
            yield conn
        finally:
            conn.close()


class _Text(bytes):
    """TEXT as stored (whatever its encoding), kept apart from BLOBs with the same bytes."""


def _encode(value: object) -> bytes:
    # Type tag + length keep (b"1", "1", 1, None) and row boundaries distinct in the digest.
    if isinstance(value, _Text):
        return b"T" + str(len(value)).encode() + b":" + bytes(value)
    if value is None:
        return b"N"
    if isinstance(value, int):
        return b"I" + str(value).encode()
    if isinstance(value, float):
        return b"F" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        return b"T" + str(len(raw)).encode() + b":" + raw
    if isinstance(value, bytes):
        return b"B" + str(len(value)).encode() + b":" + value
    raise TypeError(f"unexpected SQLite value type {type(value).__name__}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_content_sha256(path: Path) -> str:
    """SHA-256 over the schema and every table's rows, tables by name, rows ordered by all columns.

    Equal for a database and its backup-API copy; opened read-only.

    Raises:
        sqlite3.DatabaseError: The file is not a readable SQLite database.
    """
    digest = hashlib.sha256()
    with open_sqlite_readonly(path) as conn:
        conn.text_factory = _Text
        schema = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        for row in schema:
            digest.update(b"S" + b"|".join(_encode(v) for v in row) + b"\n")
        tables = [
            bytes(name).decode("utf-8", "surrogateescape")
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        for table in tables:
            columns = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
            order = ", ".join(str(i + 1) for i in range(len(columns)))
            digest.update(b"N" + _encode(table) + b"\n")
            query = f"SELECT * FROM {_quote(table)}" + (f" ORDER BY {order}" if order else "")  # noqa: S608
            for row in conn.execute(query):
                digest.update(b"R" + b"|".join(_encode(v) for v in row) + b"\n")
    return digest.hexdigest()


def compare_checksums(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """Human-readable differences: `missing: X`, `different: X` (empty when equal on `expected`'s keys)."""
    problems: list[str] = []
    for rel in sorted(expected):
        if rel not in actual:
            problems.append(f"missing: {rel}")
        elif actual[rel] != expected[rel]:
            problems.append(f"different: {rel}")
    return problems
