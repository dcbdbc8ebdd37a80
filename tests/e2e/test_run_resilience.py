"""Session expiry mid-run, SIGKILL then resume, Ctrl+C: nothing lost, nothing recorded wrong."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.e2e.conftest import Workspace, browser_descendants, wait_until

from coupadl.sandbox import SandboxServer, Scenario
from support.waiting import wait_gone

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FINAL = {"COMPLETED", "NO_ATTACHMENTS", "PO_NOT_FOUND", "INVALID_PO"}


def po_list(ws: Workspace, scenario: Scenario) -> Path:
    return ws.write_csv(
        "pos.csv", [["PO_NUMBER", "Row"]] + [[f"PO{po.number}", str(i)] for i, po in enumerate(scenario.pos)]
    )


def page_gets(server: SandboxServer, since: int = 0) -> Counter[str]:
    return Counter(
        r.path.rsplit("/", 1)[-1]
        for r in server.requests()[since:]
        if r.method == "GET" and r.path.startswith("/order_headers/")
    )


def stored_status(ws: Workspace) -> dict[str, str]:
    """Statuses in the progress store, read without writing."""
    db = ws.out / ".coupadl" / "progress.sqlite"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT po, status FROM pos").fetchall())
    finally:
        conn.close()


def assert_files_right(ws: Workspace, server: SandboxServer, rows: list[dict[str, str]]) -> None:
    """Every COMPLETED row's folder holds exactly the served bytes, each once."""
    for row in rows:
        if row["STATUS"] != "COMPLETED":
            continue
        digits = row["PO_NUMBER"][2:]
        folder = Path(row["DOWNLOAD_FOLDER"])
        got = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir())
        want = sorted(f.sha256 for f in server.files() if f.po == digits)
        assert got == want, f"{digits}: {sorted(p.name for p in folder.iterdir())}"


def test_session_expiring_mid_run_leaves_pos_pending(ws: Workspace, sandbox_factory: Any) -> None:
    scenario = Scenario.bench(n_pos=16, attachments_per_po=1, size=5_000, page_latency_s=0.0)
    scenario = Scenario(pos=scenario.pos, expire_after_views=12)
    server = sandbox_factory(scenario)

    proc = ws.run(ws.args("run", str(po_list(ws, scenario)), server=server, workers=2), timeout=120)

    assert proc.returncode == 3, f"{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    statuses = Counter(r["STATUS"] for r in rows)
    assert set(statuses) <= {"COMPLETED", "PENDING"}, statuses
    assert statuses["PENDING"] >= 1, statuses
    assert_files_right(ws, server, rows)
    totals = ws.summary()["totals"]
    assert totals.get("PO_NOT_FOUND", 0) == totals.get("NO_ATTACHMENTS", 0) == totals.get("FAILED", 0) == 0


def test_sigkill_then_rerun_resumes(ws: Workspace, sandbox_factory: Any) -> None:
    scenario = Scenario.bench(n_pos=20, attachments_per_po=2, size=30_000, page_latency_s=0.6)
    server = sandbox_factory(scenario)
    cmd = ws.args("run", str(po_list(ws, scenario)), server=server, workers=2)

    first = ws.start(cmd)
    assert wait_until(lambda: sum(page_gets(server).values()) >= 6 or first.poll() is not None, 90)
    assert first.poll() is None, "the run ended before it could be killed"
    browsers = browser_descendants(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    for child in browsers:  # orphans of the killed run (a real kill -9 would leave them too)
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    wait_gone(browsers, "the killed run's browsers to end")
    done_before = {po for po, status in stored_status(ws).items() if status in FINAL}
    assert done_before, "nothing finished before the kill"
    assert len(done_before) < len(scenario.pos)
    mark = len(server.requests())

    second = ws.run(cmd, timeout=150)

    assert second.returncode == 0, f"{second.stdout[-3000:]}\n{second.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    assert [r["STATUS"] for r in rows] == ["COMPLETED"] * len(scenario.pos)
    assert_files_right(ws, server, rows)
    revisited = set(page_gets(server, mark)) & done_before
    assert not revisited, f"finished before the kill yet visited again: {sorted(revisited)}"
    for row in rows:
        names = row["ATTACHMENT_NAMES"].split(";")
        assert not any(" (" in n for n in names), names


def test_sigint_exits_130_closes_browsers_and_rerun_completes(ws: Workspace, sandbox_factory: Any) -> None:
    scenario = Scenario.bench(n_pos=20, attachments_per_po=1, size=20_000, page_latency_s=0.6)
    server = sandbox_factory(scenario)
    cmd = ws.args("run", str(po_list(ws, scenario)), server=server, workers=2)

    first = ws.start(cmd)
    assert wait_until(lambda: sum(page_gets(server).values()) >= 4 or first.poll() is not None, 90)
    assert first.poll() is None, "the run ended before it could be interrupted"
    seen = browser_descendants(first.pid)
    assert seen, "no browser under the running coupadl"
    started = time.monotonic()
    first.send_signal(signal.SIGINT)
    code = first.wait(60)
    assert code == 130, (ws.root / "proc0.log").read_text()
    assert time.monotonic() - started < 60
    assert wait_until(lambda: not any(p.is_running() and p.status() != "zombie" for p in seen), 10), [
        p.pid for p in seen if p.is_running()
    ]
    _, rows = ws.results()
    assert {r["STATUS"] for r in rows} <= {"COMPLETED", "PENDING"}

    second = ws.run(cmd, timeout=150)
    assert second.returncode == 0, f"{second.stdout[-3000:]}\n{second.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    assert [r["STATUS"] for r in rows] == ["COMPLETED"] * len(scenario.pos)
    assert_files_right(ws, server, rows)
