"""Benchmark: the persistent worker pool against the sandbox with real headless Chromium.

1. Throughput: tasks per minute for 1..4 workers, sandbox pages 300 ms slow (`--tasks` tasks each run).
2. Per-task overhead at 0 latency: a fresh tab per task in one browser vs a new browser per task
   (both over a bare `get` in an already open tab).
3. Memory: one worker's USS (worker + driver + browser tree) after 10 and after 200 tasks.

    python3 bench/pool.py [--tasks 40] [--workers 4] [--long 200]

Prints a JSON line per figure and a summary with the targets; cleans up after itself.
"""

from __future__ import annotations

import argparse
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
from coupadl.pool import Task
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind
from support.pool_harness import PoolHarness, short_dir

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


def memory(base: Path, launch: LaunchConfig, long: int) -> tuple[int, int]:
    with SandboxServer(Scenario.small()) as server:
        harness = PoolHarness(base, launch, server.base_url, workers=1)
        try:
            harness.start()
            assert harness.pool is not None
            worker = harness.pool.workers[1]
            harness.run(tasks(server, 10, "a"))
            time.sleep(1.0)
            after_10 = tree_memory(worker.all_processes())
            harness.run(tasks(server, long - 10, "b"))
            time.sleep(1.0)
            after_long = tree_memory(worker.all_processes())
            assert len(harness.browser_pids[1]) == 1, "the worker was never restarted"
        finally:
            harness.cleanup()
    emit(
        figure="memory",
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
    args = parser.parse_args()
    launch = LaunchConfig(find_executables(BrowserKind.CHROMIUM), headless=True)
    root = short_dir("cdl-bb-")
    try:
        with SandboxServer(Scenario.small()) as server:
            sign_in_profile(launch, root / "u", server.base_url)
        base = root / "u"
        emit(figure="machine", nproc=os.cpu_count(), loadavg=[round(x, 1) for x in os.getloadavg()])
        rates = {n: throughput(base, launch, n, args.tasks) for n in range(1, args.workers + 1)}
        cost = overhead(base, launch, args.rounds)
        uss10, uss_long = memory(base, launch, args.long)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    speedup = rates.get(3, 0.0) / rates[1]
    growth = (uss_long - uss10) / uss10
    checks = {
        f"3 workers >= {TARGETS['speedup_3']}x one worker (got {speedup:.2f}x)": speedup
        >= TARGETS["speedup_3"],
        f"tab overhead <= {TARGETS['tab_overhead_s']} s (got {cost['tab_overhead_s']:.3f} s)": cost[
            "tab_overhead_s"
        ]
        <= TARGETS["tab_overhead_s"],
        f"tab overhead >= {TARGETS['tab_vs_browser']}x less than a browser per task "
        f"(got {cost['browser_overhead_s'] / max(cost['tab_overhead_s'], 1e-3):.1f}x)": cost[
            "browser_overhead_s"
        ]
        >= TARGETS["tab_vs_browser"] * cost["tab_overhead_s"],
        f"USS after {args.long} within 20% of after 10 (got {growth:+.1%})": abs(growth)
        <= TARGETS["uss_growth"],
    }
    for text, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    emit(figure="machine_after", loadavg=[round(x, 1) for x in os.getloadavg()])
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
