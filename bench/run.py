"""The job end to end, side by side in one run: the hand-written loop, Crawlee and `coupadl run`.

Each contender runs as its own process (start to exit) on a fresh copy of one signed-in profile against one
sandbox; the order rotates from repeat to repeat. Every run's files are checked by SHA-256 against the
sandbox's `/sandbox/files`: the benchmark stops on a non-zero exit, on any file too many, and on any file
coupadl did not save; a peer that lost files is reported in the "files lost" column. Printed per contender:
POs per minute (end to end) and CPU-seconds per PO of all its processes (browser, driver, workers: this
process is their subreaper, so exited ones are counted through psutil's `children_*` times) and of the site;
then coupadl-3 / Crawlee-3 as the median of the ratios of the pairs run in the same repeat.

    python bench/run.py [--repeats 3] [--n-pos 40] [--contenders plain,crawlee-3,coupadl-1,coupadl-3]
    python bench/run.py --repeats 1 --n-pos 4          # smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from coupadl.browser.discovery import Executables, find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind

BENCH = Path(__file__).resolve().parent
SKIP = shutil.ignore_patterns(
    "Singleton*", "lockfile", "LOCK", "DevToolsActivePort", "Cache", "Code Cache", "GPUCache", "Crashpad"
)
CONTENDERS = ("plain", "crawlee-1", "crawlee-3", "coupadl-1", "coupadl-3")
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Outcome:
    """One contender's run."""

    name: str
    seconds: float
    cpu_s: float  # all the contender's processes
    site_cpu_s: float  # this process: the sandbox serving it (and a little bookkeeping)
    settle_s: tuple[float, ...] = ()  # coupadl: what waiting for each page to settle cost (from po.done)
    missing: int = 0  # a peer's files that never arrived (coupadl's runs must be exact: the bench stops)


def become_subreaper() -> None:
    """Orphaned descendants (a browser whose driver exited first) are re-parented here, so their CPU time
    is counted when they are reaped."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_all(timeout: float = 20.0) -> list[int]:
    """Wait for every descendant to exit (browser helpers linger after a quit); returns PIDs still running
    after `timeout` (then killed: the benchmark leaves nothing behind)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        left = psutil.Process().children(recursive=True)
        if not left:
            return []
        if time.monotonic() > deadline:
            for proc in left:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(left, timeout=5)
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            return [p.pid for p in left]
        time.sleep(0.1)


def measured(name: str, cmd: list[str], cwd: Path) -> Outcome:
    """Run `cmd` to its end; wall time, CPU of all its processes, CPU of this process meanwhile."""
    me = psutil.Process()
    before = me.cpu_times()
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=1800)
    seconds = time.monotonic() - started
    leftovers = reap_all()
    after = me.cpu_times()
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    if leftovers:
        print(f"warning: {name} left processes running after its exit: {leftovers}", flush=True)
    children = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    own = (after.user - before.user) + (after.system - before.system)
    return Outcome(name, seconds, children, own)


def expected_files(server: SandboxServer) -> Counter[str]:
    """SHA-256 of every file the sandbox serves, from `/sandbox/files`."""
    with urllib.request.urlopen(server.url("/sandbox/files"), timeout=30) as response:  # noqa: S310 (loopback)
        return Counter(str(f["sha256"]) for f in json.load(response))


def saved_files(out: Path) -> Counter[str]:
    """SHA-256 of every attachment a contender saved (files in sub-folders, coupadl's state left out)."""
    found: Counter[str] = Counter()
    for path in out.rglob("*"):
        rel = path.relative_to(out)
        if path.is_file() and len(rel.parts) > 1 and rel.parts[0] != ".coupadl":
            found[hashlib.sha256(path.read_bytes()).hexdigest()] += 1
    return found


def command(
    name: str,
    server: SandboxServer,
    profile: Path,
    out: Path,
    po_csv: Path,
    numbers: list[str],
    exe: Executables,
) -> list[str]:
    py = sys.executable
    if name == "plain":
        return [py, str(BENCH / "plain_loop.py"), server.base_url, str(profile), str(out), *numbers]
    if name.startswith("crawlee-"):
        concurrency = name.split("-")[1]
        return [py, str(BENCH / "peer_crawlee.py"), server.base_url, str(profile), str(out), *numbers,
                "--concurrency", concurrency, "--executable", str(exe.binary)]  # fmt: skip
    workers = name.split("-")[1]
    return [py, "-m", "coupadl", "run", str(po_csv), "--browser", "chromium", "--driver", str(exe.driver),
            "--browser-binary", str(exe.binary), "--profile", str(profile), "--out", str(out),
            "--workers", workers, "--base-url", server.base_url, "--fresh", "--quiet"]  # fmt: skip


def run_one(
    name: str, server: SandboxServer, base: Path, po_csv: Path, numbers: list[str], exe: Executables
) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix="cbr-", dir="/tmp"))
    try:
        profile = work / "p"
        shutil.copytree(base, profile, ignore=SKIP, symlinks=True)
        out = work / "out"
        outcome = measured(name, command(name, server, profile, out, po_csv, numbers, exe), work)
        want, got = expected_files(server), saved_files(out)
        missing, extra = sum((want - got).values()), sum((got - want).values())
        if extra or (missing and name.startswith("coupadl")):
            raise SystemExit(f"{name}: files differ: {missing} missing, {extra} extra")
        if missing:  # a peer that lost files: reported beside its figures, never hidden
            print(f"warning: {name} saved {missing} file(s) fewer than the site serves", flush=True)
            outcome = replace(outcome, missing=missing)
        return replace(outcome, settle_s=settle_costs(out)) if name.startswith("coupadl") else outcome
    finally:
        shutil.rmtree(work, ignore_errors=True)


def settle_costs(out: Path) -> tuple[float, ...]:
    """Seconds each PO spent waiting for its page to settle (`settle_s` of `po.done` in the window logs)."""
    costs = []
    for log in (out / ".coupadl" / "logs").glob("window-*.jsonl"):
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "po.done" and isinstance(event.get("settle_s"), int | float):
                costs.append(float(event["settle_s"]))
    return tuple(costs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-pos", type=int, default=40)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--contenders", default="plain,crawlee-3,coupadl-1,coupadl-3")
    args = parser.parse_args()
    names = [n for n in args.contenders.split(",") if n]
    unknown = set(names) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; choose from {', '.join(CONTENDERS)}")
    become_subreaper()
    scenario = Scenario.bench(
        n_pos=args.n_pos, attachments_per_po=2, size=args.size, page_latency_s=args.latency
    )
    numbers = [po.number for po in scenario.pos]
    exe = find_executables(BrowserKind.CHROMIUM)
    root = Path(tempfile.mkdtemp(prefix="cbr-", dir="/tmp"))
    results: dict[str, list[Outcome]] = {n: [] for n in names}
    try:
        with SandboxServer(scenario) as server:
            base = root / "base"
            sign_in_profile(LaunchConfig(exe, headless=True), base, server.base_url)
            reap_all()
            po_csv = root / "pos.csv"
            with po_csv.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["PO_NUMBER"])
                writer.writerows([f"PO{n}"] for n in numbers)
            print(json.dumps({"nproc": os.cpu_count(), "loadavg": os.getloadavg()}), flush=True)
            for repeat in range(args.repeats):
                shift = repeat % len(names)
                for name in names[shift:] + names[:shift]:
                    outcome = run_one(name, server, base, po_csv, numbers, exe)
                    results[name].append(outcome)
                    print(json.dumps({"repeat": repeat + 1, **outcome.__dict__}), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(results, args)


def report(results: dict[str, list[Outcome]], args: argparse.Namespace) -> None:
    n = args.n_pos
    print(
        f"\n{n} POs x 2 attachments x {args.size // 1000} kB, page latency {args.latency} s; "
        f"median of {args.repeats}; files checked by SHA-256 against /sandbox/files (coupadl: always exact)"
    )
    print(
        f"{'':12} {'POs/min':>8} {'seconds':>8} {'CPU-s/PO':>9} {'site CPU-s/PO':>14} {'files lost':>10}"
        "  runs (POs/min)"
    )
    for name, runs in results.items():
        rates = [n / r.seconds * 60 for r in runs]
        print(
            f"{name:12} {statistics.median(rates):8.1f} {statistics.median(r.seconds for r in runs):8.1f}"
            f" {statistics.median(r.cpu_s / n for r in runs):9.3f}"
            f" {statistics.median(r.site_cpu_s / n for r in runs):14.3f} {sum(r.missing for r in runs):10d}"
            f"  {[round(x, 1) for x in rates]}"
        )
    settle = [cost for runs in results.values() for run in runs for cost in run.settle_s]
    if settle:
        print(
            f"coupadl, settling a page with attachments: median {statistics.median(settle) * 1000:.0f} ms, "
            f"worst {max(settle) * 1000:.0f} ms per PO ({len(settle)} POs)"
        )
    pairs = [("coupadl-3", "crawlee-3"), ("coupadl-3", "coupadl-1"), ("coupadl-3", "plain")]
    for top, bottom in pairs:
        if top in results and bottom in results:
            ratios = [b.seconds / a.seconds for a, b in zip(results[top], results[bottom], strict=True)]
            print(
                f"{top} / {bottom}: {statistics.median(ratios):.2f}x (pairs: {[round(r, 2) for r in ratios]})"
            )


if __name__ == "__main__":
    main()
