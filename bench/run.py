"""End-to-end throughput of `coupadl run` (1 and 3 windows) against the plain loop, on the sandbox.

Usage: python bench/run.py [--repeats 3]
Prints POs per minute end to end (process start to exit) and excluding window start-up (first window
ready to last PO done, from `<out>/.coupadl/logs/`), and what waiting for pages to settle cost per PO with
attachments (median and worst of the `settle_s` the job logs with each `po.done`).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from coupadl.browser.discovery import find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind
from plain_loop import plain_loop

SKIP = shutil.ignore_patterns(
    "Singleton*", "lockfile", "LOCK", "DevToolsActivePort", "Cache", "Code Cache", "GPUCache", "Crashpad"
)


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def working_span(out: Path) -> float:
    """Seconds from the first window ready to the last PO done."""
    ready, done = [], []
    for log in (out / ".coupadl" / "logs").glob("window-*.jsonl"):
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "window ready" or (
                event.get("event") == "window" and event.get("verified")
            ):
                ready.append(_stamp(event["timestamp"]))
            if event.get("event") == "po.done":
                done.append(_stamp(event["timestamp"]))
    return max(done) - min(ready) if ready and done else float("nan")


def settle_costs(out: Path) -> list[float]:
    """Seconds each PO with attachments spent waiting for its page to settle (from the window logs)."""
    costs = []
    for log in (out / ".coupadl" / "logs").glob("window-*.jsonl"):
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "po.done" and isinstance(event.get("settle_s"), int | float):
                costs.append(float(event["settle_s"]))
    return costs


def run_coupadl(
    server: SandboxServer,
    profile: Path,
    root: Path,
    po_csv: Path,
    workers: int,
    executables: object,
    settle: list[float] | None = None,
) -> tuple[float, float]:
    work = Path(tempfile.mkdtemp(prefix="cb-", dir="/tmp"))
    try:
        copy = work / "p"
        shutil.copytree(profile, copy, ignore=SKIP, symlinks=True)
        out = work / "out"
        cmd = [
            sys.executable,
            "-m",
            "coupadl",
            "run",
            str(po_csv),
            "--browser",
            "chromium",
            "--driver",
            str(executables.driver),
            "--browser-binary",
            str(executables.binary),  # type: ignore[attr-defined]
            "--profile",
            str(copy),
            "--out",
            str(out),
            "--workers",
            str(workers),
            "--base-url",
            server.base_url,
            "--fresh",
            "--quiet",
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
        total = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit(f"coupadl exit {proc.returncode}: {proc.stderr[-2000:]}")
        span = working_span(out)
        if settle is not None:
            settle.extend(settle_costs(out))
        keep = root / f"logs-w{workers}-{int(time.time())}"
        shutil.copytree(out / ".coupadl" / "logs", keep)
        return total, span
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-pos", type=int, default=40)
    args = parser.parse_args()
    scenario = Scenario.bench(n_pos=args.n_pos, attachments_per_po=2, size=100_000, page_latency_s=0.3)
    numbers = [po.number for po in scenario.pos]
    executables = find_executables(BrowserKind.CHROMIUM)
    root = Path(tempfile.mkdtemp(prefix="cbr-", dir="/tmp"))
    print(f"work folder {root}")
    with SandboxServer(scenario) as server:
        profile = root / "base"
        sign_in_profile(LaunchConfig(executables, headless=True), profile, server.base_url)
        po_csv = root / "pos.csv"
        with po_csv.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["PO_NUMBER"])
            writer.writerows([f"PO{n}"] for n in numbers)
        results: dict[str, list[tuple[float, float]]] = {
            "coupadl 1 window": [],
            "coupadl 3 windows": [],
            "plain loop": [],
        }
        settle: list[float] = []
        for _ in range(args.repeats):
            for workers in (1, 3):
                results[f"coupadl {workers} window{'s' if workers > 1 else ''}"].append(
                    run_coupadl(server, profile, root, po_csv, workers, executables, settle)
                )
            work = Path(tempfile.mkdtemp(prefix="cbp-", dir="/tmp"))
            shutil.copytree(profile, work / "p", ignore=SKIP, symlinks=True)
            started = time.monotonic()
            span = plain_loop(
                server.base_url,
                work / "p",
                work / "out",
                numbers,
                str(executables.binary),
                str(executables.driver),
            )
            results["plain loop"].append((time.monotonic() - started, span))
            shutil.rmtree(work, ignore_errors=True)
    n = len(numbers)
    print(f"{n} POs x 2 attachments x 100 kB, page latency 0.3 s; median of {args.repeats}")
    print(f"{'':20} {'end-to-end s':>13} {'POs/min':>8} {'working s':>10} {'POs/min excl. start-up':>23}")
    for name, runs in results.items():
        total = statistics.median(r[0] for r in runs)
        span = statistics.median(r[1] for r in runs)
        print(f"{name:20} {total:13.1f} {n / total * 60:8.1f} {span:10.1f} {n / span * 60:23.1f}")
        print(f"{'':20} runs: {[(round(a, 1), round(b, 1)) for a, b in runs]}")
    if settle:
        print(
            f"settling a page with attachments: median {statistics.median(settle) * 1000:.0f} ms, "
            f"worst {max(settle) * 1000:.0f} ms per PO ({len(settle)} POs)"
        )


if __name__ == "__main__":
    main()
