"""Benchmark: CPU-seconds per PO of each tab policy, in one browser against the sandbox (0.3 s pages).

Policies, each opening a PO page and running the page probe (`PROBE_JS`) per PO, as `process_po` does:

- `w3c-fresh`: the former fresh tab per PO: W3C "new window", switch, `get`, read the address, probe, close,
  switch back to the main window (7 WebDriver commands).
- `cdp-fresh`: a fresh tab per PO created on the PO URL with CDP `Target.createTarget`, switch, one script
  that waits for the load and reads the address, probe, close, switch back (6 commands).
- `reuse`: one task tab kept across POs; `Tab.open` (`get`, then one script proving the new document and
  probing it), the pop-up check at the end of the task (3 commands).
- `preload`: what `BrowserSession.open_tab` and `open_page` do now: `reuse`, plus a spare tab (opened from
  the task tab's page: the same renderer) sent to the next PO while this one runs; the next PO takes the
  spare tab, proves its page new and probes it, and the two tabs swap roles.

Printed besides CPU: wall seconds per PO, meaningful on an idle machine only (one window, no downloads).

The figure is CPU-seconds (user + system) of the driver, the browser and all its children (exited ones
included through their parents' `children_*` times), plus this Python process, divided by the POs: wall
time means nothing on a shared machine, CPU time does. Policies are interleaved and repeated; the
median and the spread are printed.

    python bench/tabs.py [--pos 20] [--repeats 5] [--latency 0.3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from selenium.webdriver.remote.command import Command

from coupadl.browser.discovery import find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.session import NEW_DOCUMENT_JS, BrowserSession
from coupadl.coupa.page import PROBE_JS
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind

SKIP = shutil.ignore_patterns("Singleton*", "lockfile", "LOCK", "DevToolsActivePort")

CHECK_JS = NEW_DOCUMENT_JS


def tree_cpu(root_pids: list[int]) -> float:
    """CPU-seconds of the processes and all their descendants, reaped children included."""
    seen: dict[int, psutil.Process] = {}
    for pid in root_pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            seen[pid] = proc
            for child in proc.children(recursive=True):
                seen.setdefault(child.pid, child)
    total = 0.0
    for proc in seen.values():
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def self_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


class Policy:
    """One way of giving each PO a tab; `visit` opens `url` and probes it."""

    name = ""

    def __init__(self, session: BrowserSession) -> None:
        self.session = session
        self.driver: Any = session._driver
        self.commands = 0
        execute = self.driver.execute

        def counted(*args: Any, **kwargs: Any) -> Any:  # every WebDriver command goes through `execute`
            self.commands += 1
            return execute(*args, **kwargs)

        self.driver.execute = counted

    def call(self, fn: Callable[[], Any]) -> Any:
        return fn()

    def visit(self, url: str, next_url: str = "") -> None:
        """Open `url` and probe it; `next_url` is the PO after it (only `preload` looks at it)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Leave only the main window open."""

    def probe(self) -> None:
        raw = self.call(lambda: self.driver.execute_script(PROBE_JS, secrets.token_hex(8)))
        assert raw["items"], "the PO page shows its attachments"


class W3CFresh(Policy):
    name = "w3c-fresh"

    def visit(self, url: str, next_url: str = "") -> None:
        d = self.driver
        handle = self.call(lambda: d.execute(Command.NEW_WINDOW, {"type": "tab"}))["value"]["handle"]
        self.call(lambda: d.switch_to.window(handle))
        self.call(lambda: d.get(url))
        assert self.call(lambda: d.current_url) == url
        self.probe()
        self.call(lambda: d.execute(Command.CLOSE))
        self.call(lambda: d.switch_to.window(self.session.main_window_handle))


class CDPFresh(Policy):
    name = "cdp-fresh"

    def visit(self, url: str, next_url: str = "") -> None:
        d = self.driver
        target = self.call(lambda: d.execute_cdp_cmd("Target.createTarget", {"url": url}))["targetId"]
        self.call(lambda: d.switch_to.window(target))
        href, prev, _origin = self.call(lambda: d.execute_script(CHECK_JS, secrets.token_hex(8)))
        assert href == url and prev is None
        self.probe()
        self.call(lambda: d.execute(Command.CLOSE))
        self.call(lambda: d.switch_to.window(self.session.main_window_handle))


class Reuse(Policy):
    name = "reuse"

    def visit(self, url: str, next_url: str = "") -> None:
        with self.session.open_tab("po") as tab:
            landed, raw = tab.open(url, None, PROBE_JS, secrets.token_hex(8))
            assert landed == url and raw["items"], "the PO page shows its attachments"

    def finish(self) -> None:
        self.session.replace_task_tab()


class Preload(Reuse):
    name = "preload"

    def visit(self, url: str, next_url: str = "") -> None:
        with self.session.open_tab("po", opens=url, preload=next_url) as tab:
            landed, raw = tab.open(url, None, PROBE_JS, secrets.token_hex(8))
            assert landed == url and raw["items"], "the PO page shows its attachments"


POLICIES: dict[str, type[Policy]] = {p.name: p for p in (W3CFresh, CDPFresh, Reuse, Preload)}


def measure(
    policy_cls: type[Policy], launch: LaunchConfig, profile: Path, root: Path, urls: list[str]
) -> dict[str, Any]:
    """Start a browser on a copy of `profile`, warm it up, then visit every URL; CPU-s per PO."""
    copy = root / f"p-{policy_cls.name}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(profile, copy, ignore=SKIP, symlinks=True)
    session = BrowserSession.start(launch, copy, "Default", root / "dl")
    try:
        session.set_page_timeout(30.0)
        policy = policy_cls(session)
        # Warm up (first renderer, caches, the kept tabs), the last one preloading the first measured PO.
        policy.visit(urls[-2], urls[-1])
        policy.visit(urls[-1], urls[0])
        roots = [p.pid for p in session.tracked_processes]
        policy.commands = 0
        time.sleep(0.5)  # let start-up work settle before the counters are read
        browser0, self0, wall0 = tree_cpu(roots), self_cpu(), time.perf_counter()
        for i, url in enumerate(urls):
            policy.visit(url, urls[i + 1] if i + 1 < len(urls) else "")
        browser1, self1, wall1 = tree_cpu(roots), self_cpu(), time.perf_counter()
        policy.finish()
    finally:
        session.quit()
        shutil.rmtree(copy, ignore_errors=True)
    n = len(urls)
    return {
        "policy": policy_cls.name,
        "pos": n,
        "cpu_s_per_po": (browser1 - browser0 + self1 - self0) / n,
        "browser_cpu_s_per_po": (browser1 - browser0) / n,
        "python_cpu_s_per_po": (self1 - self0) / n,
        "wall_s_per_po": (wall1 - wall0) / n,
        "commands_per_po": policy.commands / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pos", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--policies", default=",".join(POLICIES))
    args = parser.parse_args()
    names = [n for n in args.policies.split(",") if n]
    launch = LaunchConfig(find_executables(BrowserKind.CHROMIUM), headless=True)
    root = Path(f"/tmp/cdl-tabs-{os.getpid()}")
    root.mkdir()
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    scenario = Scenario.bench(n_pos=args.pos, attachments_per_po=2, size=1000, page_latency_s=args.latency)
    try:
        with SandboxServer(scenario) as server:
            sign_in_profile(launch, root / "u", server.base_url)
            urls = [server.url(f"/order_headers/{po.number}") for po in scenario.pos]
            print(json.dumps({"nproc": os.cpu_count(), "loadavg": os.getloadavg()}), flush=True)
            for repeat in range(args.repeats):
                order = names[repeat % len(names) :] + names[: repeat % len(names)]  # rotate who goes first
                for name in order:
                    result = measure(POLICIES[name], launch, root / "u", root, urls)
                    runs[name].append(result)
                    print(
                        json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()})
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{args.pos} POs per run, {args.repeats} runs per policy, page latency {args.latency} s")
    header = f"{'policy':10} {'CPU-s/PO median':>16} {'min':>7} {'max':>7} {'browser':>8} {'python':>7}"
    print(f"{header} {'cmds/PO':>8} {'wall s/PO':>10}")
    for name, results in runs.items():
        cpu = [r["cpu_s_per_po"] for r in results]
        print(
            f"{name:10} {statistics.median(cpu):16.3f} {min(cpu):7.3f} {max(cpu):7.3f}"
            f" {statistics.median(r['browser_cpu_s_per_po'] for r in results):8.3f}"
            f" {statistics.median(r['python_cpu_s_per_po'] for r in results):7.3f}"
            f" {statistics.median(r['commands_per_po'] for r in results):8.1f}"
            f" {statistics.median(r['wall_s_per_po'] for r in results):10.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
