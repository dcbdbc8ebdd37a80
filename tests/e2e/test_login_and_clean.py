"""`coupadl login` (a visible window, under Xvfb) and `coupadl clean`, run as the operator would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from e2e_helpers import cli_env, run_cli

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
    out = proc.stdout
    assert f"window on the profile {signed_in_copy}" in out and f"at {sandbox.base_url}/user/home" in out
    assert "Sign in there as you usually do" in out and "SSO" in out
    assert "Waiting up to 15:00; press Ctrl+C to cancel." in out
    assert (
        f"next: coupadl check --base-url {sandbox.base_url} --profile {signed_in_copy} --browser chromium"
        in out
    )
    assert time.monotonic() - started < 60
    assert not (signed_in_copy.parent / "login-downloads").exists()  # nothing written beside the profile
    assert not (signed_in_copy / "SingletonLock").is_symlink()  # the browser quit cleanly


def test_login_that_never_signs_in_says_it_still_waits_then_gives_up(
    short_tmp: Path, sandbox: SandboxServer, xvfb_display: str
) -> None:
    proc = _login(short_tmp / "fresh", sandbox, xvfb_display, "--timeout", "17")
    assert proc.returncode == 3, proc.stderr
    assert "Waiting up to 0:17; press Ctrl+C to cancel." in proc.stdout
    still = [line for line in proc.stdout.splitlines() if line.startswith("still waiting for the sign-in")]
    assert still and "left; Ctrl+C cancels" in still[0], proc.stdout  # every 15 s when not a terminal
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not signed in" in lines[0], proc.stderr


@pytest.mark.parametrize(
    ("sig", "inherited"),
    [
        (signal.SIGINT, "default"),
        # A script's background job (`coupadl login &`) starts with SIGINT ignored: Ctrl+C still works.
        (signal.SIGINT, "ignored"),
        (signal.SIGTERM, "default"),
    ],
)
def test_ctrl_c_closes_the_login_window_cleanly_and_exits_130(
    short_tmp: Path, sandbox: SandboxServer, xvfb_display: str, sig: signal.Signals, inherited: str
) -> None:
    profile = short_tmp / "fresh"
    log = short_tmp / "login.txt"
    args = ["login", "--browser", "chromium", "--profile", str(profile), "--base-url", sandbox.base_url]
    command = [sys.executable, "-m", "coupadl", *args]
    if inherited == "ignored":  # `exec` keeps the PID: the signal goes to coupadl itself
        command = ["/bin/sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
    with log.open("w") as sink:
        proc = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env=cli_env({"DISPLAY": xvfb_display}),
        )
    try:
        browsers: list[psutil.Process] = []

        def waiting() -> bool:
            browsers[:] = [
                c for c in psutil.Process(proc.pid).children(recursive=True) if "chrom" in c.name()
            ]
            return "press Ctrl+C to cancel" in log.read_text() and bool(browsers)

        assert _until(waiting, 60), log.read_text()
        proc.send_signal(sig)
        assert proc.wait(30) == 130, log.read_text()
        _gone, alive = psutil.wait_procs(browsers, timeout=10)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "a browser was left running"
        assert "cancelled: the window is closed" in log.read_text()
        assert "Traceback" not in log.read_text()
        assert not (profile / "SingletonLock").is_symlink()  # the browser quit cleanly
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


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
