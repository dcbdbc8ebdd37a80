"""Orphan sweep: folders of dead owners go, live ones and foreign ones stay; PID reuse is not mistaken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
from profile_factory import tree_state

from coupadl.profiles.manager import ProfileManager
from coupadl.profiles.markers import OWNER_MARKER, FolderKind, Owner, read_owner, write_owner
from coupadl.profiles.sweep import sweep_orphans
from coupadl.settings import ProfilePolicy


def _dead_owner(kind: FolderKind) -> dict[str, object]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    create_time = psutil.Process(proc.pid).create_time()
    proc.terminate()
    proc.wait()
    return {
        "kind": kind.value,
        "pid": proc.pid,
        "create_time": create_time,
        "host": socket.gethostname(),
        "created_at": "",
    }


def _folder(root: Path, name: str, owner: dict[str, object] | None) -> Path:
    folder = root / name
    (folder / "snap").mkdir(parents=True)
    if owner is not None:
        (folder / OWNER_MARKER).write_text(json.dumps(owner))
    return folder


def test_sweep_removes_dead_and_keeps_live(tmp_path: Path) -> None:
    root = tmp_path / "t"
    dead = _folder(root, "rdead", _dead_owner(FolderKind.RUN))
    me = Owner.current(FolderKind.RUN)
    live = _folder(root, "rlive", {**me.__dict__, "kind": "run"})
    reused = _folder(root, "rreused", {**me.__dict__, "kind": "run", "create_time": me.create_time - 1000})
    foreign = _folder(root, "rforeign", {**_dead_owner(FolderKind.RUN), "host": "elsewhere"})
    unmarked = _folder(root, "rnomarker", None)
    report = sweep_orphans(root)
    assert sorted(report.removed) == sorted([dead, reused])  # a reused PID is not the owner
    assert not dead.exists() and not reused.exists()
    assert sorted(report.kept) == sorted([live, foreign])
    assert unmarked.is_dir() and (unmarked, "no coupadl run marker") in report.skipped


def test_sweep_keeps_a_run_whose_browser_still_runs(tmp_path: Path) -> None:
    root = tmp_path / "t"
    run = _folder(root, "rdead", _dead_owner(FolderKind.RUN))
    clone = run / "w2"
    clone.mkdir()
    (clone / "SingletonLock").symlink_to(f"{socket.gethostname()}-{os.getpid()}")
    report = sweep_orphans(root)
    assert run.is_dir() and report.skipped == [(run, "a browser still runs on it")]


def test_sweep_removes_a_dead_workers_clone_inside_a_live_run(tmp_path: Path) -> None:
    root = tmp_path / "t"
    me = Owner.current(FolderKind.RUN)
    run = _folder(root, "rlive", {**me.__dict__, "kind": "run"})
    dead_clone = run / "w3.1"
    dead_clone.mkdir()
    (dead_clone / OWNER_MARKER).write_text(json.dumps(_dead_owner(FolderKind.CLONE)))
    mine = run / "w2"
    mine.mkdir()
    write_owner(mine, FolderKind.CLONE)
    report = sweep_orphans(root)
    assert report.removed == [dead_clone] and mine.is_dir() and (run / "snap").is_dir()


def test_sweep_of_a_missing_root(tmp_path: Path) -> None:
    assert sweep_orphans(tmp_path / "none").removed == []


def test_start_sweeps_and_never_touches_the_base(
    manager_factory: Callable[..., ProfileManager], base: Path, temp_root: Path
) -> None:
    before = tree_state(base)
    orphan = _folder(temp_root, "rold", _dead_owner(FolderKind.RUN))
    manager = manager_factory(policy=ProfilePolicy.ALL_CLONES)
    manager.start()
    assert not orphan.exists()
    assert manager.last_sweep is not None and manager.last_sweep.removed == [orphan]
    manager.create_worker_profiles([1, 2])
    assert read_owner(manager.profiles[1].profile_path) is not None
    manager.shutdown()
    assert list(temp_root.iterdir()) == []
    assert tree_state(base) == before
