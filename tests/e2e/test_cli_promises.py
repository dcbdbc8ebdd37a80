"""The exit-code promise of the `coupadl` command: every bad input is refused with one line and exit 2
before anything starts (not even a `--version` probe of the browser), `--quiet` prints only the final
tables, `-v` shows the log lines, and a failed run names its log file."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from e2e_helpers import cli_env
from tests.e2e.conftest import Workspace

from coupadl.sandbox import SandboxServer, Scenario

pytestmark = [pytest.mark.browser]

FAKE = """#!/bin/sh
echo "$0 $*" >> {marker}
echo "Chromium 130.0.6723.116"
"""


@dataclass
class Refused:
    code: int
    stdout: str
    stderr: str
    children: list[str]


def fake_executables(ws: Workspace) -> tuple[Path, Path, Path]:
    """A browser and a driver that only write down that they were started; returns (browser, driver,
    marker). Any `--version` probe or start leaves a line in the marker file."""
    marker = ws.root / "started.txt"
    paths = []
    for name in ("fake-browser", "fake-driver"):
        path = ws.root / name
        path.write_text(FAKE.format(marker=marker), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        paths.append(path)
    return paths[0], paths[1], marker


def run_noting_children(args: list[str], cwd: Path, timeout: float = 60.0) -> Refused:
    """`python -m coupadl ARGS`, noting every process that appears under it while it runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "coupadl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=cwd,
    )
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    parent = psutil.Process(proc.pid)
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            for child in parent.children(recursive=True):
                try:
                    seen.add(" ".join(child.cmdline()) or child.name())
                except psutil.Error:
                    seen.add(str(child.pid))
        except psutil.Error:
            break
        time.sleep(0.005)
    stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    return Refused(proc.returncode, stdout, stderr, sorted(seen))


def _pos(ws: Workspace) -> Path:
    return ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262984"]])


def _shared(ws: Workspace, browser: Path, driver: Path, **override: str) -> list[str]:
    options = {
        "--browser": "chromium",
        "--browser-binary": str(browser),
        "--driver": str(driver),
        "--profile": str(ws.profile),
        "--out": str(ws.out),
        "--base-url": "https://acme.coupahost.com",
    }
    options.update(override)
    return [item for pair in options.items() for item in pair]


def _out_is_a_file(ws: Workspace, b: Path, d: Path) -> list[str]:
    target = ws.root / "a-file.txt"
    target.write_text("not a folder", encoding="utf-8")
    return ["run", str(_pos(ws)), *_shared(ws, b, d, **{"--out": str(target)})]


def _out_under_a_file(ws: Workspace, b: Path, d: Path) -> list[str]:
    target = ws.root / "a-file.txt"
    target.write_text("not a folder", encoding="utf-8")
    return ["run", str(_pos(ws)), *_shared(ws, b, d, **{"--out": str(target / "sub")})]


def _missing_profile(ws: Workspace, b: Path, d: Path) -> list[str]:
    return ["run", str(_pos(ws)), *_shared(ws, b, d, **{"--profile": str(ws.root / "no-profile")})]


def _missing_profile_check(ws: Workspace, b: Path, d: Path) -> list[str]:
    return ["check", *_shared(ws, b, d, **{"--profile": str(ws.root / "no-profile")})]


def _url_with_path(ws: Workspace, b: Path, d: Path) -> list[str]:
    return ["run", str(_pos(ws)), *_shared(ws, b, d, **{"--base-url": "https://x/user/home"})]


def _url_with_path_check(ws: Workspace, b: Path, d: Path) -> list[str]:
    return ["check", *_shared(ws, b, d, **{"--base-url": "https://x/user/home"})]


def _url_with_path_login(ws: Workspace, b: Path, d: Path) -> list[str]:
    return ["login", "--browser-binary", str(b), "--driver", str(d), "--base-url", "https://x/user/home"]


def _login_negative_timeout(ws: Workspace, b: Path, d: Path) -> list[str]:
    return [
        "login", "--browser", "chromium", "--browser-binary", str(b), "--driver", str(d),
        "--profile", str(ws.root / "login-profile"), "--base-url", "https://acme.coupahost.com",
        "--timeout", "-5",
    ]  # fmt: skip


def _demo_nine_workers(ws: Workspace, _b: Path, _d: Path) -> list[str]:
    return ["demo", "--workers", "9", "--out", str(ws.out)]


def _demo_out_is_a_file(ws: Workspace, _b: Path, _d: Path) -> list[str]:
    target = ws.root / "a-file.txt"
    target.write_text("not a folder", encoding="utf-8")
    return ["demo", "--out", str(target)]


def _missing_input(ws: Workspace, b: Path, d: Path) -> list[str]:
    return ["run", str(ws.root / "nope.csv"), *_shared(ws, b, d)]


def _unknown_option(ws: Workspace, b: Path, d: Path) -> list[str]:
    return ["run", str(_pos(ws)), "--bogus", *_shared(ws, b, d)]


def _workers_nine(ws: Workspace, b: Path, d: Path) -> list[str]:
    return ["run", str(_pos(ws)), *_shared(ws, b, d, **{"--workers": "9"})]


BAD: dict[str, tuple[Callable[[Workspace, Path, Path], list[str]], str]] = {
    "out-is-a-file": (_out_is_a_file, "is a file"),
    "out-under-a-file": (_out_under_a_file, "is under the file"),
    "missing-profile": (_missing_profile, "profile"),
    "missing-profile-check": (_missing_profile_check, "profile"),
    "url-with-path": (_url_with_path, "--base-url"),
    "url-with-path-check": (_url_with_path_check, "--base-url"),
    "url-with-path-login": (_url_with_path_login, "--base-url"),
    "login-timeout-negative": (_login_negative_timeout, "--timeout"),
    "demo-nine-workers": (_demo_nine_workers, "--workers"),
    "demo-out-is-a-file": (_demo_out_is_a_file, "is a file"),
    "missing-input": (_missing_input, "nope.csv"),
    "unknown-option": (_unknown_option, "--bogus"),
    "nine-workers": (_workers_nine, "workers"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_nothing_starts(ws: Workspace, case: str) -> None:
    browser, driver, marker = fake_executables(ws)
    build, word = BAD[case]
    args = build(ws, browser, driver)

    result = run_noting_children(args, ws.root)

    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == 2, f"{result.stdout}\n{result.stderr}"
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("coupadl: error: ") and word in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not marker.exists(), f"the browser or driver was started: {marker.read_text()}"
    assert result.children == [], "a process was started"
    assert not ws.out.exists() or not any(ws.out.iterdir()), sorted(ws.out.rglob("*"))


# --- what a run prints --------------------------------------------------------------------------------------


def _small(sandbox_factory: Any) -> tuple[SandboxServer, Scenario]:
    scenario = Scenario.bench(n_pos=3, attachments_per_po=1, size=5_000, page_latency_s=0.0)
    return sandbox_factory(scenario), scenario


def _list(ws: Workspace, scenario: Scenario) -> Path:
    return ws.write_csv("pos.csv", [["PO_NUMBER"]] + [[f"PO{po.number}"] for po in scenario.pos])


def test_quiet_prints_only_the_final_tables(ws: Workspace, sandbox_factory: Any) -> None:
    server, scenario = _small(sandbox_factory)

    proc = ws.run(ws.args("run", str(_list(ws, scenario)), server=server, workers=1, extra=["--quiet"]))

    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    assert proc.stderr == ""
    text = proc.stdout
    assert "Windows" in text and "POs" in text and "COMPLETED" in text and "total" in text
    assert "wrote" not in text and "done" not in text, text  # no progress, no notes
    table_lines = [line for line in text.splitlines() if line.strip()]
    assert all(line.lstrip()[:1] in "┏┃┡│└WP" or "/" in line for line in table_lines), text


def test_verbose_shows_the_log_lines(ws: Workspace, sandbox_factory: Any) -> None:
    server, scenario = _small(sandbox_factory)

    proc = ws.run(ws.args("run", str(_list(ws, scenario)), server=server, workers=1, extra=["-v"]))

    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    saved = [line for line in proc.stderr.splitlines() if "attachment.saved" in line]
    assert len(saved) == len(scenario.pos), proc.stderr
    assert all(" info [A PO" in line for line in saved), saved  # the window and the PO on every line
    assert any("[main] worker spawned" in line for line in proc.stderr.splitlines()), proc.stderr


def test_a_failed_run_names_its_log_file(ws: Workspace, sandbox_factory: Any) -> None:
    server, scenario = _small(sandbox_factory)
    server.expire_all_sessions()

    proc = ws.run(ws.args("run", str(_list(ws, scenario)), server=server, workers=1, extra=["--quiet"]))

    assert proc.returncode == 3, f"{proc.stdout[-3000:]}\n{proc.stderr}"
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    log = ws.out.resolve() / ".coupadl" / "logs" / "main.jsonl"
    assert lines[0].endswith(f"(log: {log})"), lines[0]
    assert log.is_file()
    assert "coupadl login" in lines[0]
