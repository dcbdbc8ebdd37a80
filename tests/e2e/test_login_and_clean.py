"""`coupadl login` (a visible window, under Xvfb) and `coupadl clean`, run as the operator would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_helpers import run_cli

from coupadl.profiles.markers import OWNER_MARKER, FolderKind, write_owner
from coupadl.sandbox import SandboxServer

pytestmark = pytest.mark.browser


def _login(
    profile: Path, server: SandboxServer, display: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    args = [
        "login",
        "--browser",
        "chromium",
        "--profile",
        str(profile),
        "--base-url",
        server.base_url,
        *extra,
    ]
    return run_cli(args, env={"DISPLAY": display}, timeout=90)


def test_login_on_a_signed_in_profile_returns_at_once(
    signed_in_copy: Path, sandbox: SandboxServer, xvfb_display: str
) -> None:
    started = time.monotonic()
    proc = _login(signed_in_copy, sandbox, xvfb_display)
    assert proc.returncode == 0, proc.stderr
    assert "signed in" in proc.stdout and str(signed_in_copy) in proc.stdout
    assert time.monotonic() - started < 60
    assert not (signed_in_copy.parent / "login-downloads").exists()  # nothing written beside the profile
    assert not (signed_in_copy / "SingletonLock").is_symlink()  # the browser quit cleanly


def test_login_that_never_signs_in_says_so(
    short_tmp: Path, sandbox: SandboxServer, xvfb_display: str
) -> None:
    proc = _login(short_tmp / "fresh", sandbox, xvfb_display, "--timeout", "3")
    assert proc.returncode == 3, proc.stderr
    assert "not signed in" in proc.stdout


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_clean_removes_folders_of_dead_runs_only(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    temp_root = root / f"coupadl-{os.getuid()}"
    dead, live = temp_root / "rdead", temp_root / "rlive"
    for folder in (dead, live):
        (folder / "w2" / "Default").mkdir(parents=True)
    write_owner(live, FolderKind.RUN)  # this test process: alive
    marker = {
        "kind": FolderKind.RUN.value,
        "pid": _dead_pid(),
        "create_time": 1.0,
        "host": socket.gethostname(),
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    (dead / OWNER_MARKER).write_text(json.dumps(marker), encoding="utf-8")

    proc = run_cli(["clean"], env={"TMPDIR": str(root)}, timeout=60)

    assert proc.returncode == 0, proc.stderr
    assert not dead.exists()
    assert live.exists()
    assert f"removed {dead}" in proc.stdout
