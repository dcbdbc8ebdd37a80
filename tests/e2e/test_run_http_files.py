"""`coupadl run` fetching files over HTTP: a worker killed mid-file, a session that expires at the file."""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.e2e.conftest import Workspace, wait_until

from coupadl.coupa.http_files import TEMP_PREFIX
from coupadl.sandbox import Attachment, PurchaseOrder, Scenario

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BIG = 20 * 1024 * 1024


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"{TEMP_PREFIX}*") if p.is_file()] if root.exists() else []


def worker_processes(pid: int) -> list[psutil.Process]:
    """The pool's worker processes under the run `pid` (spawned Pythons, not the browsers or drivers)."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            found.append(child)
    return found


def test_worker_killed_mid_file_leaves_no_temporary_file_and_the_file_arrives_whole(
    ws: Workspace, sandbox_factory: Any
) -> None:
    big = Attachment("scan 20MB.pdf", size=BIG, delay_s=8.0)
    po = PurchaseOrder("15262993", "Slowpoke Logistics", attachments=[big])
    server = sandbox_factory(Scenario(pos=[po]))
    po_csv = ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262993"]])

    run = ws.start(ws.args("run", str(po_csv), server=server, workers=1))
    assert wait_until(lambda: bool(temp_files(ws.out)) or run.poll() is not None, 90), ws.logs()
    assert run.poll() is None, "the run ended before its worker could be killed"
    (leftover,) = temp_files(ws.out)
    (worker,) = worker_processes(run.pid)
    worker.send_signal(signal.SIGKILL)
    psutil.wait_procs([worker], timeout=10)
    assert leftover.exists()  # what a killed worker leaves behind

    code = run.wait(150)  # the pool restarts the window; its next start takes the PO again

    assert code == 0, f"{(ws.root / 'proc0.log').read_text()}\n{ws.logs()}"
    _, rows = ws.results()
    assert [r["STATUS"] for r in rows] == ["COMPLETED"]
    folder = Path(rows[0]["DOWNLOAD_FOLDER"])
    (saved,) = folder.iterdir()
    assert saved.name == "scan 20MB.pdf"
    assert saved.stat().st_size == BIG
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == server.files()[0].sha256
    assert temp_files(ws.out) == []
    assert ws.summary()["workers"][0]["restarts"] == 1


def test_session_expiring_between_page_and_file_leaves_the_po_pending(
    ws: Workspace, sandbox_factory: Any
) -> None:
    quote = Attachment("quote.pdf", expire_session=True)
    expiring = PurchaseOrder("15262984", "Acme GmbH", attachments=[quote])
    server = sandbox_factory(Scenario(pos=[expiring], sso_host="localhost"))
    po_csv = ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262984"]])

    proc = ws.run(ws.args("run", str(po_csv), server=server, workers=1), timeout=120)

    assert proc.returncode == 3, f"{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    assert [r["STATUS"] for r in rows] == ["PENDING"]
    assert not list(ws.out.rglob("*.pdf"))  # no sign-in page kept as the file
    assert temp_files(ws.out) == []
