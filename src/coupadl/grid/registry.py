"""The run's remote sessions, recorded under the output folder so that a killed run's sessions are ended.

A session on a Grid outlives the process that started it: after a SIGKILL of coupadl it keeps its slot until
the node's session time-out (minutes), so the resume would find the Grid full. Every remote session is
recorded in `<out>/.coupadl/grid-sessions.json` when it starts (with the run's process id and start time)
and removed when it ends; the next start deletes, on the Grid, the sessions whose run is gone.

The file is replaced atomically (`coupadl.atomic`) under a `filelock`, so worker processes may add and remove
their sessions at the same time. It holds ids and addresses only, never a cookie.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import filelock
import psutil

from coupadl.atomic import atomic_write
from coupadl.errors import GridUnreachableError
from coupadl.grid.client import GridClient
from coupadl.log import get_logger

__all__ = ["REGISTRY_NAME", "RemoteSessionRecord", "SessionRegistry", "clean_stale_sessions"]

REGISTRY_NAME = "grid-sessions.json"


def _process_start(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


@dataclass(frozen=True)
class RemoteSessionRecord:
    """One remote session a run started.

    Attributes:
        session_id: The WebDriver session id.
        grid_url: The Grid it runs on.
        node_uri: The node running it ("" if not known).
        owner_pid: The coupadl process (supervisor) of the run that started it.
        owner_started: That process's create time (a reused PID is not the same run).
        started_at: When the session started (ISO 8601, UTC).
    """

    session_id: str
    grid_url: str
    node_uri: str
    owner_pid: int
    owner_started: float
    started_at: str

    def owner_alive(self) -> bool:
        """True while the run that started this session is still running."""
        started = _process_start(self.owner_pid)
        return started is not None and abs(started - self.owner_started) < 0.01


class SessionRegistry:
    """`<state_dir>/grid-sessions.json`: the remote sessions of this output folder's runs.

    Args:
        state_dir: The output folder's state folder (`<out>/.coupadl`); created if missing.
        owner_pid: The run's supervisor process (default: this process). Workers pass the supervisor's PID,
            so a worker's restart does not make its run's sessions look stale.
    """

    def __init__(self, state_dir: Path, *, owner_pid: int | None = None) -> None:
        self.path = state_dir / REGISTRY_NAME
        self._lock = filelock.FileLock(str(state_dir / f"{REGISTRY_NAME}.lock"), timeout=30)
        self.owner_pid = owner_pid if owner_pid is not None else os.getpid()
        self._state_dir = state_dir

    def records(self) -> list[RemoteSessionRecord]:
        """Every recorded session (an unreadable file counts as empty, and is logged)."""
        if not self.path.exists():
            return []  # nothing recorded yet: no lock file, no folder made by a mere read
        with self._lock:
            return self._read()

    def add(self, session_id: str, grid_url: str, node_uri: str = "") -> RemoteSessionRecord:
        """Record a session this run started."""
        record = RemoteSessionRecord(
            session_id=session_id,
            grid_url=grid_url,
            node_uri=node_uri,
            owner_pid=self.owner_pid,
            owner_started=_process_start(self.owner_pid) or 0.0,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._update(lambda items: [*(r for r in items if r.session_id != session_id), record])
        return record

    def remove(self, *session_ids: str) -> None:
        """Forget sessions (ended, or deleted on the Grid)."""
        gone = set(session_ids)
        self._update(lambda items: [r for r in items if r.session_id not in gone])

    def _read(self) -> list[RemoteSessionRecord]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [RemoteSessionRecord(**item) for item in raw.get("sessions", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            get_logger(__name__).warning("grid.registry_unreadable", path=str(self.path), error=str(exc))
            return []

    def _update(self, change: Any) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            items: list[RemoteSessionRecord] = change(self._read())
            body = json.dumps({"sessions": [asdict(r) for r in items]}, indent=1).encode()

            def write(stream: IO[bytes]) -> None:
                stream.write(body)

            atomic_write(self.path, write, mode=0o600)


def clean_stale_sessions(
    registry: SessionRegistry, client: GridClient, *, settle_timeout: float = 15.0
) -> list[str]:
    """Delete on the Grid the recorded sessions whose run is gone; forget them all.

    Sessions of a run still running (another coupadl on the same output folder) are left alone, and so are
    sessions recorded for another Grid (they stay recorded until a run on that Grid cleans them). The Grid
    frees a deleted session's slot a moment after answering the delete: this waits (up to `settle_timeout`
    seconds) until its status no longer lists them, so the free slots counted next include theirs.

    Returns:
        The ids the Grid still had and ended now.

    Raises:
        GridUnreachableError: The Grid does not answer (nothing is forgotten then).
    """
    log = get_logger(__name__)
    stale = [r for r in registry.records() if r.grid_url == client.url and not r.owner_alive()]
    if not stale:
        return []
    running = client.status().session_ids()
    deleted: list[str] = []
    forgotten: list[str] = []
    for record in stale:
        if record.session_id in running:
            with contextlib.suppress(GridUnreachableError):
                if client.delete_session(record.session_id):
                    deleted.append(record.session_id)
                    forgotten.append(record.session_id)
                    log.info("grid.stale_session_deleted", node=record.node_uri, remote=record.session_id[:8])
                    continue
            log.warning("grid.stale_session_not_deleted", node=record.node_uri, remote=record.session_id[:8])
        else:
            forgotten.append(record.session_id)  # already gone from the Grid (time-out, node restart)
    registry.remove(*forgotten)
    deadline = time.monotonic() + settle_timeout
    while deleted and set(deleted) & client.status().session_ids() and time.monotonic() < deadline:
        time.sleep(0.2)
    return deleted
