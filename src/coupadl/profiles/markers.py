"""The small JSON files coupadl leaves in its own folders: who owns a folder, and that a copy finished.

- `OWNER_MARKER` is written FIRST into every run, snapshot and clone folder: the owner's process identity
  (PID and create time, `coupadl.processes`: a reused PID is not mistaken for the owner) and host. Cleanup
  refuses folders without it.
- `COMPLETE_MARKER` is written LAST, atomically and durably (`coupadl.atomic`), once a snapshot or clone
  is fully copied and checked; a folder without it is partial and is never used.

Both names start with `MARKER_PREFIX`, which copying skips, so markers never travel from snapshot to clone.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from coupadl.atomic import atomic_write
from coupadl.processes import ProcessIdentity

__all__ = [
    "COMPLETE_MARKER",
    "MARKER_PREFIX",
    "OWNER_MARKER",
    "FolderKind",
    "Owner",
    "is_complete",
    "read_complete",
    "read_owner",
    "write_complete",
    "write_owner",
]

MARKER_PREFIX = ".coupadl-"
OWNER_MARKER = ".coupadl-owner.json"
COMPLETE_MARKER = ".coupadl-complete.json"


class FolderKind(StrEnum):
    """What a coupadl temp folder is."""

    RUN = "run"
    SNAPSHOT = "snapshot"
    CLONE = "clone"


@dataclass(frozen=True)
class Owner:
    """The process that owns a temp folder."""

    kind: FolderKind
    pid: int
    create_time: float
    host: str
    created_at: str

    @classmethod
    def current(cls, kind: FolderKind) -> Owner:
        """This process as owner of a folder of `kind`."""
        me = ProcessIdentity.current()
        return cls(
            kind=kind,
            pid=me.pid,
            create_time=me.create_time,
            host=socket.gethostname(),
            created_at=datetime.now(UTC).isoformat(),
        )

    def is_alive(self) -> bool:
        """True while the owning process runs; owners on other hosts are assumed alive (never swept)."""
        if self.host != socket.gethostname():
            return True
        # Access denied: it exists, and it is not ours to judge.
        return ProcessIdentity(self.pid, self.create_time).is_alive(if_unknown=True)


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    # The temporary name starts with the marker's, i.e. with MARKER_PREFIX: copies skip a leftover one too.
    body = json.dumps(data, sort_keys=True).encode("utf-8")
    atomic_write(path, lambda stream: stream.write(body), mode=0o600, prefix=f"{path.name}.")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_owner(folder: Path, kind: FolderKind) -> Owner:
    """Record this process as the owner of `folder`."""
    owner = Owner.current(kind)
    data = asdict(owner)
    data["kind"] = kind.value
    _write_json_atomically(folder / OWNER_MARKER, data)
    return owner


def read_owner(folder: Path) -> Owner | None:
    """The recorded owner of `folder`, or None if there is no readable marker."""
    data = _read_json(folder / OWNER_MARKER)
    if data is None:
        return None
    try:
        return Owner(
            kind=FolderKind(data["kind"]),
            pid=int(data["pid"]),
            create_time=float(data["create_time"]),
            host=str(data["host"]),
            created_at=str(data.get("created_at", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def write_complete(folder: Path, details: dict[str, Any]) -> None:
    """Mark `folder` as completely copied; call it last."""
    _write_json_atomically(
        folder / COMPLETE_MARKER, {"completed_at": datetime.now(UTC).isoformat(), **details}
    )


def read_complete(folder: Path) -> dict[str, Any] | None:
    """The completion record of `folder`, or None if the copy never finished."""
    return _read_json(folder / COMPLETE_MARKER)


def is_complete(folder: Path) -> bool:
    """True if `folder` carries a readable completion marker."""
    return read_complete(folder) is not None
