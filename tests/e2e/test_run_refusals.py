"""What `coupadl` refuses before starting anything: bad input, bad arguments, an unusable base profile."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from tests.e2e.conftest import Workspace

from coupadl.sandbox import SandboxServer, Scenario

pytestmark = [pytest.mark.browser]


def _missing(ws: Workspace) -> Path:
    return ws.root / "nope.csv"


def _no_po_column(ws: Workspace) -> Path:
    return ws.write_csv("cols.csv", [["Order", "Requester"], ["PO15262984", "me"]])


def _binary(ws: Workspace) -> Path:
    path = ws.root / "picture.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    return path


def _empty(ws: Workspace) -> Path:
    path = ws.root / "empty.csv"
    path.write_bytes(b"")
    return path


def _header_only(ws: Workspace) -> Path:
    return ws.write_csv("header.csv", [["PO_NUMBER", "Note"]])


def _xlsx_no_po_column(ws: Workspace) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["Order"])
    sheet.append(["PO15262984"])
    path = ws.root / "book.xlsx"
    book.save(path)
    return path


def _folder(ws: Workspace) -> Path:
    path = ws.root / "afolder.csv"
    path.mkdir()
    return path


BAD_INPUTS: dict[str, Callable[[Workspace], Path]] = {
    "missing": _missing, "no-po-column": _no_po_column, "binary": _binary, "empty": _empty,
    "header-only": _header_only, "xlsx-no-po-column": _xlsx_no_po_column, "folder": _folder,
}  # fmt: skip


def assert_refused(ws: Workspace, server: SandboxServer, proc_stderr: str, code: int) -> None:
    """Exit 2, a one-line error, nothing asked of the site, nothing written in --out."""
    assert code == 2, proc_stderr
    lines = [line for line in proc_stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc_stderr
    assert "Traceback" not in proc_stderr
    assert server.requests() == [], "a window was started"
    assert not ws.out.exists() or not any(ws.out.iterdir()), sorted(ws.out.rglob("*"))


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_unreadable_input_is_refused(ws: Workspace, sandbox_factory: Any, case: str) -> None:
    server = sandbox_factory(Scenario.small())
    source = BAD_INPUTS[case](ws)
    proc = ws.run(ws.args("run", str(source), server=server), timeout=60)
    assert_refused(ws, server, proc.stderr, proc.returncode)
    assert "error" in proc.stderr.lower()


@pytest.mark.parametrize("workers", ["9", "0"])
def test_workers_out_of_range(ws: Workspace, sandbox_factory: Any, workers: str) -> None:
    server = sandbox_factory(Scenario.small())
    source = ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262984"]])
    cmd = ws.args("run", str(source), server=server)
    cmd[cmd.index("--workers") + 1] = workers
    proc = ws.run(cmd, timeout=60)
    assert_refused(ws, server, proc.stderr, proc.returncode)
    assert "workers" in proc.stderr.lower()


def test_missing_base_profile(ws: Workspace, sandbox_factory: Any) -> None:
    server = sandbox_factory(Scenario.small())
    source = ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262984"]])
    proc = ws.run(ws.args("run", str(source), server=server, profile=ws.root / "no-such-profile"), timeout=60)
    assert_refused(ws, server, proc.stderr, proc.returncode)
    assert "profile" in proc.stderr


def test_locked_base_profile(ws: Workspace, sandbox_factory: Any) -> None:
    server = sandbox_factory(Scenario.small())
    (ws.profile / "SingletonLock").symlink_to(f"{socket.gethostname()}-{os.getpid()}")
    source = ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262984"]])
    proc = ws.run(ws.args("run", str(source), server=server), timeout=60)
    assert_refused(ws, server, proc.stderr, proc.returncode)
    assert "lock" in proc.stderr.lower() or "in use" in proc.stderr.lower(), proc.stderr
    assert server.requests() == [], "a window was started"
    check = ws.run(ws.args("check", server=server), timeout=60)
    assert check.returncode == 2, check.stderr
    assert server.requests() == []
