"""`coupadl run/check --grid`: windows on a real local Selenium Grid (a hub and two nodes of two Chromium
slots, separate Java processes on loopback), signed in with the cookies of a base whose sign-in cookie is
session-only, against the sandbox.

One Grid serves the whole module (starting one costs seconds of two cores); every test leaves it as it found
it: all 4 slots free, both nodes up, no session recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.e2e.conftest import FAST_CONFIG, RESULT_COLUMNS, Workspace, copy_profile, wait_until
from tests.e2e.test_base_profile_kept import _session_cookies, _settings_of
from tests.e2e.test_run_mixed import ROWS, expected_files, mixed_scenario

from coupadl.browser.carried import read_carried_cookies
from coupadl.browser.discovery import Executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.remote import RemoteBrowserSession, RemoteConfig, start_remote_session
from coupadl.grid import GridClient, SessionRegistry, check_grid_url
from coupadl.pool import PersistentWorkerPool, PoolConfig, default_worker_specs
from coupadl.pool.sources import RemoteWindowSetup
from coupadl.profiles.models import VerificationConfig, VerificationMethod, VerificationStatus
from coupadl.profiles.snapshot import take_snapshot
from coupadl.sandbox import SESSION_COOKIE, SandboxServer, Scenario, sign_in_profile
from support.grid import LocalGrid, start_local_grid

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.grid, pytest.mark.timeout(420)]

SLOTS = 4  # 2 nodes x 2 Chromium slots


def _session_only(scenario: Scenario) -> Scenario:
    return dataclasses.replace(scenario, session_only_cookie=True)


def _slow_site(n_pos: int) -> Scenario:
    """POs with one small file each and slow pages: a run that lasts long enough to be hurt mid-way."""
    site = Scenario.bench(n_pos=n_pos, attachments_per_po=1, size=5_000, page_latency_s=0.6)
    return _session_only(site)


@dataclasses.dataclass
class GridBed:
    """The module's Grid and a base signed in to the sandbox by a session-only cookie (read-only)."""

    grid: LocalGrid
    base: Path
    root: Path

    def client(self) -> GridClient:
        return GridClient(self.grid.url)

    def free_slots(self) -> int:
        with self.client() as client:
            return client.free_slots()

    def running_sessions(self) -> set[str]:
        with self.client() as client:
            return client.status().session_ids()


@pytest.fixture(scope="module")
def bed(launch_config: LaunchConfig) -> Iterator[GridBed]:
    root = Path(tempfile.mkdtemp(prefix="cdl-g-", dir="/tmp"))
    started = time.monotonic()
    grid = start_local_grid(root / "grid", nodes=2, max_sessions=2)
    print(f"\nlocal Grid up in {time.monotonic() - started:.1f} s")
    try:
        with SandboxServer(_session_only(mixed_scenario())) as server:
            sign_in_profile(launch_config, root / "u", server.base_url)
        # The sign-in cookie is session-only in the base (Rails' default), and must be carried all the same.
        assert _session_cookies(root / "u", "127.0.0.1") == [0]
        yield GridBed(grid, root / "u", root)
    finally:
        grid.stop()
        left = grid.processes()
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"Grid processes left running: {[p.pid for p in left]}"


@pytest.fixture
def gws(bed: GridBed, executables: Executables) -> Iterator[Workspace]:
    """A workspace on a copy of the bed's base; after the test, no coupadl left and the Grid all free."""
    root = Path(tempfile.mkdtemp(prefix="cdlg-", dir="/tmp"))
    config = root / "fast.toml"
    config.write_text(FAST_CONFIG, encoding="utf-8")
    ws = Workspace(root, copy_profile(bed.base, root / "p"), root / "out", config, executables)
    try:
        yield ws
    finally:
        for proc in ws.procs:
            if proc.poll() is None:
                _kill_tree(proc.pid)
                proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)
        freed = wait_until(lambda: bed.free_slots() == SLOTS, 90, step=0.5)
        assert freed, f"the Grid still holds sessions after the test: {bed.running_sessions()}"


def _kill_tree(pid: int) -> list[int]:
    """SIGKILL `pid` and every process below it (workers run in their own sessions: found by ancestry)."""
    try:
        main = psutil.Process(pid)
        members = [main, *main.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    for member in members:
        try:
            member.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(members, timeout=15)
    return [m.pid for m in members]


def _grid(bed: GridBed, *more: str) -> list[str]:
    return ["--grid", bed.grid.url, *more]


def _registry(ws: Workspace) -> list[dict[str, Any]]:
    path = ws.out / ".coupadl" / "grid-sessions.json"
    if not path.is_file():
        return []
    sessions: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["sessions"]
    return sessions


def _tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder` (relative path → digest)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _files_saved(ws: Workspace) -> int:
    """Attachments saved so far (PO folders under --out; not the state folder)."""
    if not ws.out.is_dir():
        return 0
    return sum(
        1
        for p in ws.out.rglob("*")
        if p.is_file() and p.parent != ws.out and ".coupadl" not in p.relative_to(ws.out).parts
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_error(proc: Any) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# --- check --------------------------------------------------------------------------------------------------


def test_check_verifies_four_remote_windows_across_both_nodes(
    bed: GridBed, gws: Workspace, sandbox_factory: Any
) -> None:
    server = sandbox_factory(_session_only(mixed_scenario()))
    started = time.monotonic()
    proc = gws.run(gws.args("check", server=server, workers=4, extra=_grid(bed)), timeout=300)
    print(f"check --grid --workers 4: {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr}\n{gws.logs()}"
    assert "4 of 4 windows verified" in proc.stdout, proc.stdout
    assert proc.stdout.count("remote") >= 4, proc.stdout
    nodes = set(re.findall(r"node (http://[\d.:]+), session [0-9a-f]{8}", proc.stdout))
    assert nodes == bed.grid.registered_node_uris(), proc.stdout
    # Each window ran VM-001 and the carried-cookie check; VM-003 does not apply to a fresh remote profile.
    assert proc.stdout.count("skip") >= 4, proc.stdout
    # Every session was ended and forgotten; the base was never opened by a browser.
    assert _registry(gws) == []
    assert wait_until(lambda: bed.free_slots() == SLOTS, 60, step=0.5)


def test_no_free_slot_unreachable_or_insecure_grid_refuse_before_anything_starts(
    bed: GridBed, gws: Workspace, sandbox_factory: Any, launch_config: LaunchConfig
) -> None:
    server = sandbox_factory(_session_only(mixed_scenario()))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    cases = [
        (_grid_args(f"http://127.0.0.1:{dead_port}"), r"unreachable"),
        (_grid_args("http://192.0.2.10:4444"), r"--grid-insecure"),
        (["--workers", "33", *_grid(bed)], r"--workers 33"),
    ]
    for extra, message in cases:
        proc = gws.run(gws.args("check", server=server, workers=4, extra=extra), timeout=60)
        assert proc.returncode == 2, f"{extra}: {proc.stdout}\n{proc.stderr}"
        assert re.search(message, _one_line_error(proc)), proc.stderr
        assert not gws.out.exists(), f"{extra}: output written"
    # Without --grid, more than 8 windows are refused.
    proc = gws.run(gws.args("check", server=server, workers=9), timeout=60)
    assert proc.returncode == 2 and "--workers 9" in _one_line_error(proc)

    # Every slot taken: nothing starts (no browser here, nothing under --out), for check and for run.
    config = RemoteConfig(check_grid_url(bed.grid.url), launch_config)
    holders: list[RemoteBrowserSession] = []
    try:
        for _ in range(SLOTS):
            holders.append(start_remote_session(config, gws.root / "hold"))
        assert bed.free_slots() == 0
        source = gws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262984"]])
        for command in (["check"], ["run", str(source)]):
            launched: set[str] = set()
            proc_args = gws.args(*command, server=server, workers=2, extra=_grid(bed))
            child = gws.start(proc_args)
            while child.poll() is None:
                try:
                    launched |= {p.name() for p in psutil.Process(child.pid).children(recursive=True)}
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.05)
            assert child.wait(60) == 2
            log = (gws.root / f"proc{len(gws.procs) - 1}.log").read_text()
            assert "no free chrome slot" in log, log
            assert not {n for n in launched if "chrom" in n.lower()}, launched
            assert not gws.out.exists(), f"{command}: output written"
    finally:
        for holder in holders:
            holder.quit()


def _grid_args(url: str) -> list[str]:
    return ["--grid", url]


def test_a_session_whose_cookie_did_not_take_is_not_verified_with_the_reason(
    bed: GridBed, gws: Workspace, sandbox_factory: Any, launch_config: LaunchConfig
) -> None:
    server = sandbox_factory(_session_only(mixed_scenario()))
    snapshot = take_snapshot(gws.profile, "Default", gws.root / "snap")
    cookies = read_carried_cookies(launch_config, snapshot, server.base_url, [], gws.root)
    # The sign-in cookie as it would be if it had expired on the way: the remote browser drops it when set.
    spoiled = tuple(
        dataclasses.replace(c, expires=time.time() - 3600) if c.name == SESSION_COOKIE else c for c in cookies
    )
    setup = RemoteWindowSetup(
        RemoteConfig(check_grid_url(bed.grid.url), launch_config), spoiled, server.base_url, gws.out / ".s"
    )
    assert "hidden" in repr(setup) and all(c.value not in repr(setup) for c in cookies)
    verification = VerificationConfig(auth_check_url=f"{server.base_url}/user/home", auth_check_timeout=10.0)
    specs = default_worker_specs(
        worker_count=1,
        base_profile=gws.profile,
        profile_name="Default",
        base_first=True,
        launch=launch_config,
        verification=verification,
        handler="coupadl.coupa.job:process_po",
        handler_options={},
        state_dir=gws.out / ".s",
        profile_setup={},
        remote=setup,
    )
    assert all(c.value not in repr(specs[0]) for c in cookies)
    config = PoolConfig(
        1, launch_config, verification, "coupadl.coupa.job:process_po", gws.out / ".s", remote=True
    )
    with PersistentWorkerPool(config, specs) as pool:
        reports = pool.start()
    report = reports[1]
    assert not report.verified
    assert report.profile_type.value == "remote"
    assert report.verification is not None
    capability = report.verification.method_results[VerificationMethod.CAPABILITY_CHECK]
    assert capability.status is VerificationStatus.FAILED
    assert f"cookie(s) {SESSION_COOKIE} for 127.0.0.1 did not take" in capability.detail
    assert "did not take" in report.diagnosis
    # Remediated as far as it goes: cookies set again with a reload, then a new session (and again).
    assert [s.action.value for s in report.remediations] == ["recarry", "new_session", "recarry"]
    assert not any(s.succeeded for s in report.remediations)
    assert SessionRegistry(gws.out / ".s").records() == []


# --- run ----------------------------------------------------------------------------------------------------


def test_run_on_the_grid_every_status_and_file_right_base_untouched(
    bed: GridBed, gws: Workspace, sandbox_factory: Any
) -> None:
    server = sandbox_factory(_session_only(mixed_scenario()))
    base_files = _tree_digest(gws.profile)
    base_settings = _settings_of(gws.profile)
    source = gws.write_csv(
        "pos.csv",
        [["Requester", "PO_NUMBER", "Note"]]
        + [[f"req {i}", value, note] for i, (value, _, note) in enumerate(ROWS)],
    )
    started = time.monotonic()
    proc = gws.run(gws.args("run", str(source), server=server, workers=4, extra=_grid(bed)), timeout=300)
    print(f"run --grid --workers 4 (mixed list): {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}\n{gws.logs()}"

    header, rows = gws.results()
    assert header == ["Requester", "PO_NUMBER", "Note", *RESULT_COLUMNS]
    for i, (row, (value, status, _)) in enumerate(zip(rows, ROWS, strict=True)):
        assert row["STATUS"] == status, f"row {i} {value!r}: {row}"
        if status != "COMPLETED":
            continue
        digits = value.strip()[-8:]
        folder = Path(row["DOWNLOAD_FOLDER"])
        names = row["ATTACHMENT_NAMES"].split(";")
        assert sorted(p.name for p in folder.iterdir()) == sorted(names), digits
        assert sorted(sha(folder / n) for n in names) == expected_files(server, digits), digits

    summary = gws.summary()
    workers = summary["workers"]
    assert [w["profile_type"] for w in workers] == ["remote"] * 4
    assert {w["remote"]["node"] for w in workers} == bed.grid.registered_node_uris()
    for w in workers:
        assert re.fullmatch(r"[0-9a-f]{32}", w["remote"]["session_id"]), w["remote"]
        assert w["remote"]["browser_version"], w["remote"]
        assert w["verification"]["status"] == "success", w
        assert w["verification"]["methods"]["file"]["status"] == "skipped"
        assert w["verification"]["methods"]["capability"]["status"] == "success"
    assert sum(w["processed"] for w in workers) == 11

    # The operator's machine kept everything; the nodes got cookies, never a profile; the base is as it was.
    assert _registry(gws) == []
    assert _tree_digest(gws.profile) == base_files
    assert _settings_of(gws.profile) == base_settings
    assert _session_cookies(gws.profile, "127.0.0.1") == [0]
    cookie_values = [c.value for c in _carried(gws, server)]
    logs = "".join(p.read_text(errors="replace") for p in (gws.out / ".coupadl" / "logs").glob("*"))
    assert not [v for v in cookie_values if v in logs], "a cookie value reached a log"


def test_in_page_downloads_come_back_through_grids_managed_downloads(
    bed: GridBed, gws: Workspace, sandbox_factory: Any
) -> None:
    server = sandbox_factory(_session_only(mixed_scenario()))
    gws.config.write_text(FAST_CONFIG + 'download_mode = "browser"\n', encoding="utf-8")
    wanted = [row for row in ROWS if row[1] == "COMPLETED"][:5]
    source = gws.write_csv("pos.csv", [["PO_NUMBER"]] + [[value] for value, _, _ in wanted])
    proc = gws.run(gws.args("run", str(source), server=server, workers=2, extra=_grid(bed)), timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}\n{gws.logs()}"
    _, rows = gws.results()
    for row, (value, _, _) in zip(rows, wanted, strict=True):
        assert row["STATUS"] == "COMPLETED", row
        folder = Path(row["DOWNLOAD_FOLDER"])
        names = row["ATTACHMENT_NAMES"].split(";")
        assert sorted(p.name for p in folder.iterdir()) == sorted(names), row
        assert sorted(sha(folder / n) for n in names) == expected_files(server, value.strip()[-8:]), row
    # Every file went through the browser on the node; nothing is left in the staging folders.
    assert not (gws.out / ".coupadl" / "staging").exists()


def _carried(ws: Workspace, server: SandboxServer) -> list[Any]:
    """The cookies a run carries from `ws`'s base (read the same way), to look for their values in logs."""
    launch = LaunchConfig(ws.executables, headless=True)
    snapshot = take_snapshot(ws.profile, "Default", ws.root / "snap-check")
    try:
        return read_carried_cookies(launch, snapshot, server.base_url, [], ws.root)
    finally:
        shutil.rmtree(ws.root / "snap-check", ignore_errors=True)


def test_sigkill_then_rerun_resumes_and_cleans_the_old_sessions(
    bed: GridBed, gws: Workspace, sandbox_factory: Any
) -> None:
    site = _slow_site(24)
    server = sandbox_factory(site)
    source = gws.write_csv("pos.csv", [["PO_NUMBER"]] + [[f"PO{po.number}"] for po in site.pos])
    proc = gws.start(gws.args("run", str(source), server=server, workers=4, extra=_grid(bed)))

    def some_done() -> bool:
        assert proc.poll() is None, "the run ended before it could be killed"
        return len(_registry(gws)) == 4 and _files_saved(gws) >= 3

    assert wait_until(some_done, 240, step=0.2), (gws.root / "proc0.log").read_text()
    old = {r["session_id"] for r in _registry(gws)}
    _kill_tree(proc.pid)  # the run and its workers, at once: nobody ends the sessions
    assert {r["session_id"] for r in _registry(gws)} == old
    assert old <= bed.running_sessions(), "the killed run's sessions should still hold their slots"

    again = gws.run(gws.args("run", str(source), server=server, workers=4, extra=_grid(bed)), timeout=300)
    assert again.returncode == 0, f"{again.stdout[-3000:]}\n{again.stderr}\n{gws.logs()}"
    assert "free slot" not in again.stdout, (
        "the old sessions were not deleted before the windows were claimed"
    )
    assert not old & bed.running_sessions()
    assert _registry(gws) == []
    _, rows = gws.results()
    assert [r["STATUS"] for r in rows] == ["COMPLETED"] * len(site.pos)
    summary = gws.summary()
    assert len(summary["workers"]) == 4
    # Resumed: the POs finished before the kill were not visited again.
    assert summary["visited"] < len(site.pos)
    for row, po in zip(rows, site.pos, strict=True):
        folder = Path(row["DOWNLOAD_FOLDER"])
        assert [sha(p) for p in folder.iterdir()] == expected_files(server, po.number), row


def test_a_node_killed_mid_run_loses_nothing_and_the_run_completes_on_the_other(
    bed: GridBed, gws: Workspace, sandbox_factory: Any
) -> None:
    site = _slow_site(24)
    server = sandbox_factory(site)
    source = gws.write_csv("pos.csv", [["PO_NUMBER"]] + [[f"PO{po.number}"] for po in site.pos])
    proc = gws.start(gws.args("run", str(source), server=server, workers=4, extra=_grid(bed)))
    victim = bed.grid.nodes[0]

    def busy_on_victim() -> bool:
        assert proc.poll() is None, "the run ended before the node could be killed"
        records = _registry(gws)
        done = _files_saved(gws)
        return done >= 2 and sum(r["node_uri"] == victim.uri for r in records) == 2

    try:
        assert wait_until(busy_on_victim, 240, step=0.2), (gws.root / "proc0.log").read_text()
        bed.grid.kill_node(0)
        assert proc.wait(300) == 0, (gws.root / "proc0.log").read_text() + gws.logs()
    finally:
        bed.grid.restart_node(0)
    _, rows = gws.results()
    assert [r["STATUS"] for r in rows] == ["COMPLETED"] * len(site.pos), rows
    for row, po in zip(rows, site.pos, strict=True):  # each file once: nothing duplicated, nothing lost
        folder = Path(row["DOWNLOAD_FOLDER"])
        assert [sha(p) for p in folder.iterdir()] == expected_files(server, po.number), row
    workers = gws.summary()["workers"]
    assert sum(w["processed"] for w in workers) == len(site.pos)
    # The lost node's windows that held a PO are restarted; one that was between two POs may be told to stop
    # before it next speaks to the node (seen with a core burned beside the suite), so at least one restart.
    assert sum(w["restarts"] for w in workers) >= 1, workers
    assert _registry(gws) == []
    assert os.path.exists(gws.out / "run-summary.json")
