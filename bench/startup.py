"""Time to N verified windows: all at once through the pool, and the same windows one after another.

Usage: python bench/startup.py [--sizes 1 3 6] [--repeats 3] [--cookie session|persistent]

Each figure is the median of the repeats, from "start" to "every window verified" (capability, sign-in on
the sandbox, file checksums). Parallel: `PersistentWorkerPool.start()` (what `coupadl check` does, window A
on the base, the rest on clones made in the workers). Sequential: one `VerifiedWindow` after another in this
process, on clones from the same snapshot. Target on a 2-core machine: N=3 within 2x of N=1.
The sandbox signs in with a session-only cookie (Rails' default, as on real tenants) unless `--cookie
persistent` (the sign-in cookie of figures taken before every window restored its last session).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from coupadl.browser.discovery import find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.window import VerifiedWindow
from coupadl.pool import PersistentWorkerPool, PoolConfig, default_worker_specs
from coupadl.profiles import ProfileConfig, ProfileManager, VerificationConfig
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind


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
        handler="coupadl.coupa.job:process_po",
        handler_options={},
        state_dir=state,
        profile_setup=manager.worker_setup(),
    )
    config = PoolConfig(
        worker_count=n, launch=launch, verification=verification, handler="x:y", state_dir=state
    )
    pool = PersistentWorkerPool(config, specs)
    started = time.perf_counter()
    try:
        reports = pool.start()
        elapsed = time.perf_counter() - started
        bad = [r["window"] for r in reports.values() if r["verification"]["status"] != "success"]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cookie", choices=["session", "persistent"], default="session")
    args = parser.parse_args()
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
