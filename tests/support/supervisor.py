"""A small pool supervisor for the "supervisor killed with -9" test: `python -m support.supervisor BASE URL`.

It starts a 2-worker pool on a copy of BASE, prints one JSON line (every PID the pool reported, the harness
root folder), then runs long tasks (`URL/user/home?task=h<i>`, held 120 s) until it is killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from coupadl.browser.discovery import find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.pool import Task
from coupadl.settings import BrowserKind
from support.pool_harness import PoolHarness


def main(argv: list[str]) -> int:
    """Start the pool, report its processes on stdout, then work until killed."""
    base, url = argv
    launch = LaunchConfig(find_executables(BrowserKind.CHROMIUM), headless=True)
    harness = PoolHarness(Path(base), launch, url, workers=2)
    harness.start()
    print(
        json.dumps(
            {"pids": sorted(harness.seen), "root": str(harness.root), "run_dir": str(harness.run_dir)}
        ),
        flush=True,
    )
    # `?task=` tells the test's sandbox log a task's page from the verification's.
    harness.run([Task(f"h{i}", {"url": f"{url}/user/home?task=h{i}", "hold": 120.0}) for i in range(4)])
    harness.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
