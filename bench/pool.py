"""Benchmark: the persistent worker pool against the sandbox with real headless Chromium.

1. Throughput: tasks per minute for 1..4 workers, sandbox pages 300 ms slow (`--tasks` tasks each run).
2. Per-task overhead at 0 latency: a task through `BrowserSession.open_tab` (the window's task tab) vs a new
   browser per task (both over a bare `get` in an already open tab).
3. Memory: one worker's USS (worker + driver + browser tree) after 10 and after 200 POs of the real PO job
   (`process_po`: the task tab policy, page checks, downloads; `--download-mode` is handed to the job as its
   `download_mode` option), with a PASS/FAIL verdict for "within 20%".

    python3 bench/pool.py [--tasks 40] [--workers 4] [--long 200] [--figures throughput,overhead,memory]
    python3 bench/pool.py --figures memory [--long 200] [--download-mode auto|http|browser]

Prints a JSON line per figure and a summary with the targets; cleans up after itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from coupadl.browser.discovery import find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.processes import tree_memory
from coupadl.browser.session import BrowserSession
from coupadl.coupa.job import JobOptions
from coupadl.pool import Task
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind
from support.po_tasks import po_task
from support.pool_harness import PoolHarness, short_dir

PO_HANDLER = "coupadl.coupa.job:process_po"
TARGETS = {"speedup_3": 2.4, "tab_overhead_s": 0.2, "tab_vs_browser": 3.0, "uss_growth": 0.20}


def emit(**figure: Any) -> None:
    print(json.dumps(figure), flush=True)


def tasks(server: SandboxServer, count: int, prefix: str) -> list[Task]:
    return [Task(f"{prefix}{i}", {"url": server.url("/user/home")}) for i in range(count)]


def throughput(base: Path, launch: LaunchConfig, workers: int, count: int) -> float:
    with SandboxServer(Scenario(pos=Scenario.small().pos, page_latency_s=0.3)) as server:
        harness = PoolHarness(base, launch, server.base_url, workers=workers)
        try:
            harness.start()
            harness.run(tasks(server, workers, "warm"))  # every window has loaded once
            started = time.perf_counter()
            outcomes = harness.run(tasks(server, count, "t"))
            took = time.perf_counter() - started
            assert len(outcomes) == count + workers and all(not o.error for o in outcomes.values())
        finally:
            harness.cleanup()
    per_min = count / took * 60
    emit(
        figure="throughput",
        workers=workers,
        tasks=count,
        seconds=round(took, 2),
        tasks_per_min=round(per_min, 1),
    )
    return per_min


def overhead(base: Path, launch: LaunchConfig, rounds: int) -> dict[str, float]:
    root = short_dir("cdl-bo-")
    copy = root / "u"
    skip = shutil.ignore_patterns("Singleton*", "LOCK", "lockfile")
    shutil.copytree(base, copy, symlinks=True, ignore=skip)
    with SandboxServer(Scenario.small()) as server:
        url = server.url("/user/home")
        session = BrowserSession.start(launch, copy, "Default", root / "dl")
        try:
            with session.open_tab("warm") as tab:
                tab.get(url)
            bare, tabbed = [], []
            with session.open_tab("bare") as tab:
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    tab.get(url)
                    bare.append(time.perf_counter() - t0)
            for i in range(rounds):
                t0 = time.perf_counter()
                with session.open_tab(f"t{i}") as tab:
                    tab.get(url)
                tabbed.append(time.perf_counter() - t0)
        finally:
            session.quit()
        browsers = []
        for i in range(max(3, rounds // 4)):
            t0 = time.perf_counter()
            fresh = BrowserSession.start(launch, copy, "Default", root / "dl")
            try:
                with fresh.open_tab(f"b{i}") as tab:
                    tab.get(url)
            finally:
                fresh.quit()
            browsers.append(time.perf_counter() - t0)
    shutil.rmtree(root, ignore_errors=True)
    result = {
        "bare_get_s": statistics.median(bare),
        "tab_per_task_s": statistics.median(tabbed),
        "browser_per_task_s": statistics.median(browsers),
    }
    result["tab_overhead_s"] = result["tab_per_task_s"] - result["bare_get_s"]
    result["browser_overhead_s"] = result["browser_per_task_s"] - result["bare_get_s"]
    emit(figure="overhead", **{k: round(v, 3) for k, v in result.items()}, rounds=rounds)
    return result


def po_tasks(server: SandboxServer, numbers: list[str], prefix: str) -> list[Task]:
    """Tasks of the real PO job (`coupadl.coupa.job:process_po`), as the CLI builds them: each names the page
    it opens, so the worker preloads its next PO in the spare tab."""
    tasks = []
    for n in numbers:
        payload = po_task(server, n)
        tasks.append(Task(f"{prefix}{n}", payload, label=f"PO{n}", opens=payload.url))
    return tasks


def memory(base: Path, launch: LaunchConfig, long: int, download_mode: str) -> tuple[int, int]:
    """USS of one worker's tree after 10 and after `long` POs of the real PO job (the window's task tab
    policy, its downloads), one worker, never restarted."""
    scenario = Scenario.bench(n_pos=long, attachments_per_po=2, size=20_000, page_latency_s=0.0)
    numbers = [po.number for po in scenario.pos]
    out = short_dir("cdl-bm-")
    options: dict[str, Any] = {
        "base_url": "",
        "out_dir": str(out),
        "page_load_timeout": 30.0,
        "download_timeout": 30.0,
        # The switch for the HTTP downloads of issue 10 (`download_mode = auto | http | browser`).
        "download_mode": download_mode,
    }
    try:
        with SandboxServer(scenario) as server:
            options["base_url"] = server.base_url
            harness = PoolHarness(
                base,
                launch,
                server.base_url,
                workers=1,
                handler=PO_HANDLER,
                handler_options=JobOptions.from_mapping(options),
            )
            try:
                harness.start()
                assert harness.pool is not None
                worker = harness.pool.workers[1]
                first = harness.run(po_tasks(server, numbers[:10], "a"))
                time.sleep(1.0)
                after_10 = tree_memory(worker.all_processes())
                rest = harness.run(po_tasks(server, numbers[10:], "b"))
                time.sleep(1.0)
                after_long = tree_memory(worker.all_processes())
                assert len(harness.browser_pids[1]) == 1, "the worker was never restarted"
            finally:
                harness.cleanup()
            outcomes = {**first, **rest}
            statuses = {o.result.status if o.result else o.error for o in outcomes.values()}
            assert statuses == {"COMPLETED"}, f"every PO completed: {statuses}"
            want = sorted(f.sha256 for f in server.files())
            got = sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in out.rglob("*") if f.is_file())
            assert want == got, "every file saved, exact"
    finally:
        shutil.rmtree(out, ignore_errors=True)
    emit(
        figure="memory",
        job="process_po",
        download_mode=download_mode,
        uss_after_10_mb=round(after_10 / 2**20, 1),
        **{f"uss_after_{long}_mb": round(after_long / 2**20, 1)},
    )
    return after_10, after_long


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--long", type=int, default=200)
    parser.add_argument("--figures", default="throughput,overhead,memory")
    parser.add_argument("--download-mode", default="auto", choices=("auto", "http", "browser"))
    args = parser.parse_args()
    figures = set(args.figures.split(","))
    launch = LaunchConfig(find_executables(BrowserKind.CHROMIUM), headless=True)
    root = short_dir("cdl-bb-")
    checks: dict[str, bool] = {}
    try:
        with SandboxServer(Scenario.small()) as server:
            sign_in_profile(launch, root / "u", server.base_url)
        base = root / "u"
        emit(figure="machine", nproc=os.cpu_count(), loadavg=[round(x, 1) for x in os.getloadavg()])
        if "throughput" in figures:
            rates = {n: throughput(base, launch, n, args.tasks) for n in range(1, args.workers + 1)}
            speedup = rates.get(3, 0.0) / rates[1]
            checks[f"3 workers >= {TARGETS['speedup_3']}x one worker (got {speedup:.2f}x)"] = (
                speedup >= TARGETS["speedup_3"]
            )
        if "overhead" in figures:
            cost = overhead(base, launch, args.rounds)
            tab, browser = cost["tab_overhead_s"], cost["browser_overhead_s"]
            checks[f"tab overhead <= {TARGETS['tab_overhead_s']} s (got {tab:.3f} s)"] = (
                tab <= TARGETS["tab_overhead_s"]
            )
            checks[
                f"tab overhead >= {TARGETS['tab_vs_browser']}x less than a browser per task "
                f"(got {browser / max(tab, 1e-3):.1f}x)"
            ] = browser >= TARGETS["tab_vs_browser"] * tab
        if "memory" in figures:
            uss10, uss_long = memory(base, launch, args.long, args.download_mode)
            growth = (uss_long - uss10) / uss10
            checks[
                f"USS per worker after {args.long} POs of the real job within 20% of after 10 "
                f"(got {uss10 / 2**20:.1f} MB -> {uss_long / 2**20:.1f} MB, {growth:+.1%})"
            ] = abs(growth) <= TARGETS["uss_growth"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for text, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    emit(figure="machine_after", loadavg=[round(x, 1) for x in os.getloadavg()])
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
