"""Faults of the machine and hard kills, with the real `coupadl run`: a disk that fills up mid-run and an
output folder that disappears stop the run with exit code 4 and one line; a rerun resumes; a run killed
with SIGKILL leaves a results.csv whose final rows agree with the progress store."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from e2e_helpers import cli_env
from tests.e2e.conftest import FAST_CONFIG, Workspace, browser_descendants, wait_until
from tests.e2e.test_run_resilience import assert_files_right, po_list, stored_status

from coupadl.sandbox import SandboxServer, Scenario
from support.tmpfs import remount, small_disk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FINAL = {"COMPLETED", "NO_ATTACHMENTS", "PO_NOT_FOUND", "INVALID_PO"}
SIZE = 1_000_000


@dataclass
class Ended:
    """A finished `coupadl` run watched from outside: exit code, output, every browser it ever had."""

    code: int
    stdout: str
    stderr: str
    browsers: list[psutil.Process]


def run_watched(ws: Workspace, cmd: list[str], *, during: Any = None, timeout: float = 150.0) -> Ended:
    """Run `cmd`, noting every browser under it while it runs; `during(proc)` is polled until it returns
    True (then no longer called)."""
    out_file, err_file = ws.root / f"out{len(ws.procs)}.txt", ws.root / f"err{len(ws.procs)}.txt"
    with out_file.open("w") as out, err_file.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=cli_env(), cwd=ws.root)
    ws.procs.append(proc)  # type: ignore[arg-type]
    seen: dict[int, psutil.Process] = {}
    pending = during

    def watch() -> bool:
        nonlocal pending
        for child in browser_descendants(proc.pid):
            seen.setdefault(child.pid, child)
        if pending is not None and pending(proc):
            pending = None
        return proc.poll() is not None

    assert wait_until(watch, timeout, step=0.2), f"coupadl did not end within {timeout} s\n{ws.logs()}"
    return Ended(proc.returncode, out_file.read_text(), err_file.read_text(), list(seen.values()))


def assert_stopped_cleanly(ended: Ended, ws: Workspace, *words: str) -> str:
    """Exit 4, one line on stderr naming the folder and the rerun, no traceback, no browser or clone left."""
    lines = [line for line in ended.stderr.splitlines() if line.strip()]
    assert ended.code == 4, f"{ended.stdout[-3000:]}\n{ended.stderr}\n{ws.logs()}"
    assert len(lines) == 1, ended.stderr
    assert "Traceback" not in ended.stdout + ended.stderr
    line = lines[0]
    assert str(ws.out) in line and "rerun the same command" in line, line
    for word in words:
        assert word in line, line
    assert ended.browsers, "no browser was seen under the run"
    assert wait_until(lambda: not any(_running(p) for p in ended.browsers), 15), "a browser was left running"
    clones = re.findall(r"(/tmp/coupadl-\d+/\S+)", ended.stdout)
    assert clones, ended.stdout
    assert not [c for c in clones if Path(c).exists()], f"clones left: {clones}"
    return line


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def integrity(ws: Workspace, out: Path | None = None) -> str:
    db = (out or ws.out) / ".coupadl" / "progress.sqlite"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def config(ws: Workspace, extra: str) -> None:
    ws.config.write_text(FAST_CONFIG + extra, encoding="utf-8")


def test_a_disk_that_fills_up_stops_with_exit_4_and_the_rerun_completes(
    ws: Workspace, sandbox_factory: Any
) -> None:
    scenario = Scenario.bench(n_pos=10, attachments_per_po=1, size=SIZE, page_latency_s=0.0)
    server = sandbox_factory(scenario)
    served = {f.sha256 for f in server.files()}
    with small_disk("4m") as disk:
        ws.out = disk / "out"
        config(ws, "min_free_space_mb = 0.5\nresults_interval = 1.0\n")
        cmd = ws.args("run", str(po_list(ws, scenario)), server=server, workers=2)

        first = run_watched(ws, cmd)

        line = assert_stopped_cleanly(first, ws, "full")
        assert line.startswith("coupadl: error: stopped: the disk holding"), line
        saved = [p for p in ws.out.rglob("*") if p.is_file() and ".coupadl" not in p.parts]
        assert saved, "nothing was saved before the disk filled"
        for path in saved:  # no truncated attachment under a final name
            if path.name.startswith("results"):
                continue
            assert path.stat().st_size == SIZE, path
            assert hashlib.sha256(path.read_bytes()).hexdigest() in served, path
        assert not list(ws.out.rglob("*.crdownload")), "a partial download was left"
        assert integrity(ws) == "ok"
        stored = stored_status(ws)
        assert 0 < sum(s == "COMPLETED" for s in stored.values()) < len(scenario.pos)
        assert "FAILED" not in stored.values(), "no PO is failed for a full disk"
        _, rows = ws.results()
        for row in rows:
            if row["STATUS"] in FINAL:
                assert stored[row["PO_NUMBER"][2:]] == row["STATUS"], row

        remount(disk, "32m")
        second = ws.run(cmd, timeout=150)

        assert second.returncode == 0, f"{second.stdout[-3000:]}\n{second.stderr}\n{ws.logs()}"
        _, rows = ws.results()
        assert [r["STATUS"] for r in rows] == ["COMPLETED"] * len(scenario.pos)
        assert_files_right(ws, server, rows)
        for row in rows:
            assert " (" not in row["ATTACHMENT_NAMES"], (
                row
            )  # files saved before the stop were kept, not doubled


def test_an_output_folder_that_disappears_stops_with_exit_4(ws: Workspace, sandbox_factory: Any) -> None:
    scenario = Scenario.bench(n_pos=16, attachments_per_po=1, size=20_000, page_latency_s=0.5)
    server = sandbox_factory(scenario)
    config(ws, "results_interval = 1.0\n")
    cmd = ws.args("run", str(po_list(ws, scenario)), server=server, workers=2)
    moved = ws.root / "moved"

    def unplug_after_three(_proc: subprocess.Popen[str]) -> bool:
        if not ws.out.is_dir() or sum(s in FINAL for s in progress_so_far(ws).values()) < 3:
            return False
        os.rename(ws.out, moved)  # the path is gone at once, as when a drive is unplugged
        return True

    ended = run_watched(ws, cmd, during=unplug_after_three)

    assert moved.is_dir(), f"the run ended before the folder could be moved\n{ended.stdout[-2000:]}"
    assert_stopped_cleanly(ended, ws, "is gone")
    assert integrity(ws, moved) == "ok"
    assert "FAILED" not in stored_status_at(moved).values()


def progress_so_far(ws: Workspace) -> dict[str, str]:
    """For waiting on a running run: the statuses stored so far, none while the store is still being made
    (the file exists a moment before its tables do)."""
    try:
        return stored_status(ws)
    except sqlite3.OperationalError:
        return {}


def stored_status_at(out: Path) -> dict[str, str]:
    conn = sqlite3.connect(f"file:{out / '.coupadl' / 'progress.sqlite'}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT po, status FROM pos").fetchall())
    finally:
        conn.close()


def test_sigkill_leaves_results_whose_final_rows_agree_with_the_store(
    ws: Workspace, sandbox_factory: Any
) -> None:
    scenario = Scenario.bench(n_pos=20, attachments_per_po=1, size=20_000, page_latency_s=0.5)
    server: SandboxServer = sandbox_factory(scenario)
    config(ws, "results_interval = 1.0\n")
    proc = ws.start(ws.args("run", str(po_list(ws, scenario)), server=server, workers=2))

    def final_rows() -> int:
        if not (ws.out / "results.csv").exists():
            return 0
        return sum(r["STATUS"] in FINAL for r in ws.results()[1])

    def ready() -> bool:
        if proc.poll() is not None:
            return True
        return sum(s in FINAL for s in progress_so_far(ws).values()) >= 5 and final_rows() >= 3

    assert wait_until(ready, 120, step=0.2), ws.logs()
    assert proc.poll() is None, "the run ended before it could be killed"
    browsers = browser_descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for child in browsers:  # orphans of the killed run (a real kill -9 leaves them too)
        child.kill()

    stored = stored_status(ws)
    _header, rows = ws.results()
    assert len(rows) == len(scenario.pos), "results.csv is whole (written atomically)"
    finals = [r for r in rows if r["STATUS"] in FINAL]
    assert len(finals) >= 3
    for row in finals:
        assert stored[row["PO_NUMBER"][2:]] == row["STATUS"], row
    for row in rows:
        assert row["STATUS"] in FINAL | {"PENDING", "FAILED", "PARTIAL"}, row
