"""The registry of remote sessions: atomic JSON under the state folder, owners by PID and start time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from coupadl.grid import SessionRegistry


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sessions_are_added_and_removed_and_the_file_holds_ids_only(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path / ".coupadl")
    registry.add("a" * 32, "http://127.0.0.1:4444", "http://127.0.0.1:5555")
    registry.add("b" * 32, "http://127.0.0.1:4444")
    registry.add("a" * 32, "http://127.0.0.1:4444", "http://127.0.0.1:6666")  # recorded again: replaced
    records = registry.records()
    assert [(r.session_id[0], r.node_uri) for r in records] == [("b", ""), ("a", "http://127.0.0.1:6666")]
    assert all(r.owner_pid == os.getpid() and r.owner_alive() for r in records)
    path = tmp_path / ".coupadl" / "grid-sessions.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert set(json.loads(path.read_text())["sessions"][0]) == {
        "session_id", "grid_url", "node_uri", "owner_pid", "owner_started", "started_at",
    }  # fmt: skip
    registry.remove("a" * 32, "unknown")
    assert [r.session_id for r in registry.records()] == ["b" * 32]
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_session_whose_run_is_gone_is_not_owned_by_a_live_run(tmp_path: Path) -> None:
    registry = SessionRegistry(tmp_path, owner_pid=_dead_pid())
    record = registry.add("c" * 32, "http://127.0.0.1:4444")
    assert not record.owner_alive()


def test_reading_an_empty_state_folder_creates_nothing(tmp_path: Path) -> None:
    assert SessionRegistry(tmp_path / ".coupadl").records() == []
    assert not (tmp_path / ".coupadl").exists()


def test_an_unreadable_registry_counts_as_empty_and_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "grid-sessions.json").write_text("{not json")
    registry = SessionRegistry(tmp_path)
    assert registry.records() == []
    registry.add("d" * 32, "http://127.0.0.1:4444")
    assert [r.session_id for r in registry.records()] == ["d" * 32]
