"""Time to N verified windows: all at once through the pool, and the same windows one after another.

Usage: python bench/startup.py [--sizes 1 3 6] [--repeats 3] [--cookie session|persistent]
       python bench/startup.py --phases [--workers 3] [--n-pos 6] [--repeats 3]

Each figure is the median of the repeats, from "start" to "every window verified" (capability, sign-in on
the sandbox, file checksums). Parallel: `PersistentWorkerPool.start()` (what `coupadl check` does, window A
on the base, the rest on clones made in the workers). Sequential: one `VerifiedWindow` after another in this
process, on clones from the same snapshot. Target on a 2-core machine: N=3 within 2x of N=1.
The sandbox signs in with a session-only cookie (Rails' default, as on real tenants) unless `--cookie
persistent` (the sign-in cookie of figures taken before every window restored its last session).

`--phases`: where a whole `coupadl run` (as `bench/run.py` runs it) spends CPU, by process role (supervisor,
worker, chromedriver, browser main, GPU, renderer, ...) and phase (start-up until the process's window is
verified, work, shut-down after the last PO), from psutil samples of every descendant every 20 ms (this
process is their subreaper), with the kernel's exact total beside; and the wall time of each start-up step
from the run's own logs. CPU-seconds stay meaningful on a loaded machine; wall times do not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

import coupadl
from coupadl.browser.discovery import Executables, find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.window import VerifiedWindow
from coupadl.pool import PersistentWorkerPool, PoolConfig, default_worker_specs
from coupadl.profiles import ProfileConfig, ProfileManager, VerificationConfig
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind
from run import SKIP, become_subreaper, command, reap_all  # bench/run.py, beside this script

HANDLER = "coupadl.coupa.job:process_po"


def _manager(base: Path, temp: Path, verification: VerificationConfig, workers: int) -> ProfileManager:
    manager = ProfileManager.from_config(
        ProfileConfig(
            base_profile_path=base,
            temp_directory=temp,
            max_concurrent_clones=workers,
            verification_config=verification,
        )
    )
    manager.start()
    return manager


def parallel(base: Path, temp: Path, launch: LaunchConfig, verification: VerificationConfig, n: int) -> float:
    """Seconds until the pool's N windows are all verified."""
    manager = _manager(base, temp, verification, n)
    temp.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="bs-", dir=temp.parent))
    specs = default_worker_specs(
        worker_count=n,
        base_profile=base,
        profile_name="Default",
        base_first=True,
        launch=launch,
        verification=verification,
        handler=HANDLER,
        handler_options={},
        state_dir=state,
        profile_setup=manager.worker_setup(),
    )
    config = PoolConfig(
        worker_count=n,
        launch=launch,
        verification=verification,
        handler="coupadl.coupa.job:process_po",
        state_dir=state,
    )
    pool = PersistentWorkerPool(config, specs)
    started = time.perf_counter()
    try:
        reports = pool.start()
        elapsed = time.perf_counter() - started
        bad = [r.letter for r in reports.values() if not r.verified]
        if bad:
            raise SystemExit(f"windows {bad} did not verify")
    finally:
        pool.close()
        manager.shutdown()
    return elapsed


def sequential(
    base: Path, temp: Path, launch: LaunchConfig, verification: VerificationConfig, n: int
) -> float:
    """Seconds to open and verify N windows one after another (all kept open until the end)."""
    manager = _manager(base, temp, verification, n)
    windows: list[VerifiedWindow] = []
    started = time.perf_counter()
    try:
        for worker_id in range(1, n + 1):
            window = VerifiedWindow(
                manager.create_worker_profile(worker_id),
                launch,
                verification,
                manager,
                temp / f"dl{worker_id}",
            )
            windows.append(window)
            if not window.open():
                raise SystemExit(f"window {window.report.letter} did not verify: {window.report.diagnosis}")
        return time.perf_counter() - started
    finally:
        for window in windows:
            window.close()
        manager.shutdown()


# --- where a run's start-up CPU goes: `--phases` ----------------------------------------------------------

ROLES = (
    "supervisor",
    "mp helper",
    "worker",
    "chromedriver",
    "browser",
    "gpu",
    "renderer",
    "network",
    "storage",
    "utility",
    "zygote",
    "other",
)
PHASES = ("start-up", "work", "shut-down")


@dataclass
class _Seen:
    """One process of the run, as sampled: its role, the worker it descends from, its CPU over time."""

    role: str
    owner: int | None
    samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch seconds, CPU-s user + system)

    def cpu_at(self, t: float) -> float:
        """CPU-s used by time `t` (the last sample at or before it)."""
        used = 0.0
        for when, cpu in self.samples:
            if when > t:
                break
            used = cpu
        return used


def _role(cmdline: list[str], name: str) -> str:
    text = " ".join(cmdline)
    if cmdline and "python" in Path(cmdline[0]).name:
        if "spawn_main" in text:
            return "worker"
        if "multiprocessing" in text:
            return "mp helper"  # the resource tracker, a fork server (its forks are workers)
        return "supervisor" if "coupadl" in text else "other"
    if "chromedriver" in name or "msedgedriver" in name:
        return "chromedriver"
    if "chrom" in name or "chrom" in text:
        kind = next((a.split("=", 1)[1] for a in cmdline if a.startswith("--type=")), "")
        if not kind:
            return "browser"
        if kind == "utility":
            sub = next((a.lower() for a in cmdline if a.startswith("--utility-sub-type=")), "")
            return "network" if "network" in sub else "storage" if "storage" in sub else "utility"
        return {"gpu-process": "gpu", "renderer": "renderer", "zygote": "zygote"}.get(kind, "other")
    return "other"


class _Sampler(threading.Thread):
    """Samples the CPU time of every descendant of this process (a subreaper) every `interval` seconds."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True, name="cpu-sampler")
        self.interval = interval
        self.seen: dict[tuple[int, float], _Seen] = {}
        self.done = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.done.is_set():
            now = time.time()
            for proc in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self._sample(proc, now)
            self.done.wait(self.interval)

    def _sample(self, proc: psutil.Process, now: float) -> None:
        with proc.oneshot():
            key = (proc.pid, proc.create_time())
            times = proc.cpu_times()
            entry = self.seen.get(key)
            if entry is None or len(entry.samples) < 3:  # a fork shows its parent's command line until exec
                role, owner = _role(proc.cmdline(), proc.name()), None
                for parent in proc.parents():
                    parent_seen = self.seen.get((parent.pid, parent.create_time()))
                    if parent_seen is None:
                        continue
                    if role == "mp helper" and parent_seen.role == "mp helper":
                        role = "worker"  # a fork of the fork server
                    if parent_seen.role == "worker" and role != "worker":
                        owner = parent.pid
                        break
                if entry is None:
                    entry = self.seen[key] = _Seen(role, owner)
                entry.role, entry.owner = role, owner
            entry.samples.append((now, times.user + times.system))


def _events(logs: Path) -> list[dict[str, Any]]:
    events = []
    for path in sorted(logs.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                event["t"] = datetime.fromisoformat(event["timestamp"]).timestamp()
                events.append(event)
    return events


def _first(events: list[dict[str, Any]], name: str, **match: Any) -> dict[str, Any] | None:
    for event in events:
        if event.get("event") == name and all(event.get(k) == v for k, v in match.items()):
            return event
    return None


def phases_once(
    server: SandboxServer,
    base: Path,
    po_csv: Path,
    numbers: list[str],
    exe: Executables,
    workers: int,
    src: Path,
) -> dict[str, Any]:
    """One `coupadl run --workers N` of the tree `src`, sampled: CPU-s by role and phase, wall time of the
    start-up steps.

    Start-up of a window's processes (its worker, driver and browser tree) ends when that window is
    verified; the supervisor's ends when the last window is; shut-down begins with the last PO done.
    """
    work = Path(tempfile.mkdtemp(prefix="bsp-", dir="/tmp"))
    try:
        profile = work / "p"
        shutil.copytree(base, profile, ignore=SKIP, symlinks=True)
        out = work / "out"
        cmd = command(f"coupadl-{workers}", server, profile, out, po_csv, numbers, exe)
        me = psutil.Process()
        before = me.cpu_times()
        sampler = _Sampler()
        sampler.start()
        t0 = time.time()
        env = dict(os.environ, PYTHONPATH=str(src))
        proc = subprocess.run(
            cmd, cwd=work, env=env, capture_output=True, text=True, check=False, timeout=600
        )
        t_exit = time.time()
        leftovers = reap_all()
        sampler.done.set()
        sampler.join()
        after = me.cpu_times()
        if proc.returncode != 0 or leftovers:
            raise SystemExit(f"exit {proc.returncode}, left running {leftovers}\n{proc.stderr[-3000:]}")
        exact = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        events = _events(out / ".coupadl" / "logs")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    letters = [chr(ord("A") + i) for i in range(workers)]
    spawned = {e["window"]: e for e in events if e.get("event") == "worker spawned"}
    pid_letter = {int(e["pid"]): letter for letter, e in spawned.items()}
    ready = {x: (_first(events, "window ready", worker=x) or {}).get("t", t_exit) for x in letters}
    done = [e["t"] for e in events if e.get("event") == "po.done"]
    last_po = max(done, default=t_exit)
    all_ready = max(ready.values())
    snapshot = _first(events, "snapshot_taken")
    cpu: dict[str, dict[str, float]] = {r: dict.fromkeys(PHASES, 0.0) for r in ROLES}
    sup_at_snapshot = 0.0
    for (pid, _created), seen in sampler.seen.items():
        owner = pid if seen.role == "worker" else seen.owner
        cut = ready.get(pid_letter.get(owner, ""), all_ready) if owner is not None else all_ready
        final = seen.samples[-1][1] if seen.samples else 0.0
        start_cpu = seen.cpu_at(cut)
        work_cpu = seen.cpu_at(last_po) - start_cpu if last_po > cut else 0.0
        row = cpu[seen.role]
        row["start-up"] += start_cpu
        row["work"] += max(0.0, work_cpu)
        row["shut-down"] += final - start_cpu - max(0.0, work_cpu)
        if seen.role == "supervisor" and snapshot is not None:
            sup_at_snapshot += seen.cpu_at(snapshot["t"])
    steps: dict[str, float] = {
        "run start -> snapshot taken": (snapshot["t"] if snapshot else t0) - t0,
        "run start -> last window verified": all_ready - t0,
        "last PO done -> exit": t_exit - last_po,
        "whole run": t_exit - t0,
        "supervisor CPU-s until snapshot taken": sup_at_snapshot,
    }
    for x in letters:
        started = _first(events, "worker started", worker=x)
        clone = _first(events, "clone_created", window=x)
        if x in spawned and started is not None:
            steps[f"{x}: spawn -> imports done"] = started["t"] - spawned[x]["t"]
            steps[f"{x}: worker CPU-s at imports done"] = float(started.get("cpu_s", 0.0))
            mark = clone["t"] if clone else started["t"]
            if clone:
                steps[f"{x}: imports done -> clone made"] = clone["t"] - started["t"]
            steps[f"{x}: -> window verified (Chromium start + VM-001/002/003)"] = ready[x] - mark
    return {"cpu": cpu, "steps": steps, "exact_cpu": exact, "pos": len(done)}


def phases(args: argparse.Namespace) -> None:
    """`--phases`: median over repeats of `phases_once`, printed as two tables per tree. With `--before-src`
    the runs of that tree and of this one alternate (same sandbox, same profile, same minutes)."""
    become_subreaper()
    scenario = Scenario.bench(n_pos=args.n_pos, attachments_per_po=2, size=100_000, page_latency_s=0.3)
    numbers = [po.number for po in scenario.pos]
    exe = find_executables(BrowserKind.CHROMIUM)
    trees = {"this tree": Path(coupadl.__file__).resolve().parents[1]}
    if args.before_src:
        trees = {"before": args.before_src.resolve(), "after": trees["this tree"]}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
    root = Path(tempfile.mkdtemp(prefix="bsp-", dir="/tmp"))
    try:
        with SandboxServer(scenario) as server:
            base = root / "base"
            sign_in_profile(LaunchConfig(exe), base, server.base_url)
            reap_all()
            po_csv = root / "pos.csv"
            po_csv.write_text("PO_NUMBER\n" + "".join(f"PO{n}\n" for n in numbers), encoding="utf-8")
            print(json.dumps({"nproc": os.cpu_count(), "loadavg": os.getloadavg()}), flush=True)
            labels = list(trees)
            for repeat in range(args.repeats):
                for label in labels[repeat % 2 :] + labels[: repeat % 2]:
                    run = phases_once(server, base, po_csv, numbers, exe, args.workers, trees[label])
                    runs[label].append(run)
                    total = sum(sum(r.values()) for r in run["cpu"].values())
                    line = {"tree": label, "repeat": repeat + 1, "sampled_cpu_s": round(total, 3)}
                    line |= {"exact_cpu_s": round(run["exact_cpu"], 3), "loadavg": os.getloadavg()}
                    print(json.dumps(line), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for label, tree_runs in runs.items():
        print(f"\n== {label}: {trees[label]}")
        _print_phases(tree_runs, args)


def _print_phases(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    med = statistics.median
    print(
        f"coupadl run --workers {args.workers}, {args.n_pos} POs; CPU-s by role and phase, median of "
        f"{args.repeats} (sampled every 20 ms; 'exact' is the kernel's total for all the run's processes)"
    )
    print(f"{'role':14}" + "".join(f"{p:>11}" for p in (*PHASES, "total")))
    for role in ROLES:
        cells = [med(r["cpu"][role][p] for r in runs) for p in PHASES]
        totals = med(sum(r["cpu"][role].values()) for r in runs)
        if totals > 0.0005:
            print(f"{role:14}" + "".join(f"{c:11.3f}" for c in (*cells, totals)))
    sums = [med(sum(r["cpu"][role][p] for role in ROLES) for r in runs) for p in PHASES]
    print(
        f"{'all (sampled)':14}"
        + "".join(f"{c:11.3f}" for c in sums)
        + f"{med(sum(sum(v.values()) for v in r['cpu'].values()) for r in runs):11.3f}"
    )
    exact = med(r["exact_cpu"] for r in runs)
    print(f"{'all (exact)':14}{'':33}{exact:11.3f}   = {exact / args.n_pos:.3f} CPU-s per PO")
    print("wall time (s) and CPU-s of the start-up steps, median")
    for key in runs[0]["steps"]:
        values = [r["steps"][key] for r in runs if key in r["steps"]]
        print(f"  {key:62} {med(values):7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cookie", choices=["session", "persistent"], default="session")
    parser.add_argument("--phases", action="store_true", help="CPU by role and phase of a whole run")
    parser.add_argument("--workers", type=int, default=3, help="--phases: windows")
    parser.add_argument("--n-pos", type=int, default=6, help="--phases: POs in the run")
    parser.add_argument(
        "--before-src",
        type=Path,
        help="--phases: also run this tree's src (e.g. a worktree of main), alternating",
    )
    args = parser.parse_args()
    if args.phases:
        phases(args)
        return
    site = replace(Scenario.small(), session_only_cookie=args.cookie == "session")

    launch = LaunchConfig(find_executables(BrowserKind.CHROMIUM))
    root = Path(tempfile.mkdtemp(prefix="bst-", dir="/tmp"))
    try:
        with SandboxServer(site) as server:
            base = root / "base"
            sign_in_profile(launch, base, server.base_url)
            verification = VerificationConfig(auth_check_url=f"{server.base_url}/user/home")
            print(f"machine: {platform.node()} {platform.machine()}, python {platform.python_version()}")
            print(f"sign-in cookie: {args.cookie}")
            print(f"{'N':>3} {'parallel s':>11} {'sequential s':>13} {'vs N=1':>8}")
            first = None
            temp = root / "clones"  # beside the base, never around it
            for n in args.sizes:
                par = statistics.median(
                    parallel(base, temp, launch, verification, n) for _ in range(args.repeats)
                )
                seq = statistics.median(
                    sequential(base, temp, launch, verification, n) for _ in range(args.repeats)
                )
                first = first or par
                print(f"{n:>3} {par:>11.2f} {seq:>13.2f} {par / first:>7.2f}x", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
