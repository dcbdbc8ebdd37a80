"""What the supervisor of `coupadl run` imports before it spawns the workers (issue 10): none of Selenium (a
local run's supervisor drives no browser), openpyxl (XLSX input and results only), httpx or the Grid's modules
(`--grid` only). Those imports kept one core busy for ~0.3 CPU-s while the workers waited to be spawned.

Each check runs in a fresh interpreter (`sys.executable`), since this test process has imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import coupadl

SRC = Path(coupadl.__file__).resolve().parents[1]

NOT_IN_THE_SUPERVISOR = [
    "selenium",
    "openpyxl",
    "httpx",
    "coupadl.grid",
    "coupadl.browser.session",  # the window's side of the browser package
    "coupadl.browser.remote",
    "coupadl.coupa.job",  # runs in the workers; the supervisor only names it
]

# As `coupadl run` with a CSV list, up to the spawn: the command's modules, the list read, the first results
# written, the workers' target and a spec pickled as the spawn start method pickles them.
SUPERVISOR = """
import json, pickle, sys
from pathlib import Path
import coupadl.cli.app, coupadl.cli.runner, coupadl.batch
from coupadl.batch import ProgressStore, read_po_list, write_results
from coupadl.browser.discovery import Executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.cli.wiring import COUPA_HANDLER, JobOptions, handler_options  # JobOptions as the run builds it
from coupadl.pool.worker import WorkerSpec, worker_main
from coupadl.profiles.models import ProfileType, VerificationConfig
from coupadl.settings import BrowserKind, load_settings

tmp = Path(sys.argv[1])
po_list = read_po_list(tmp / "pos.csv")
settings = load_settings({"base_url": "http://127.0.0.1:9", "out": tmp / "out"})
with ProgressStore.open(tmp / "out", po_list.fingerprint) as store:
    store.register(po_list.pos)
    written = write_results(tmp / "out", po_list, store.all())
spec = WorkerSpec(
    worker_id=1,
    profile_type=ProfileType.BASE,
    base_profile_path=tmp / "base",
    profile_name="Default",
    launch=LaunchConfig(Executables(BrowserKind.CHROMIUM, Path("/x/chromium"), Path("/x/chromedriver"))),
    verification=VerificationConfig(auth_check_url="http://127.0.0.1:9/user/home"),
    handler=COUPA_HANDLER,
    download_dir=tmp / "staging",
    supervisor_pid=1,
    handler_options=JobOptions.from_mapping(handler_options(settings, tmp / "out")),
)
pickle.dumps((worker_main, spec))
print(json.dumps({"modules": sorted(sys.modules), "written": [p.name for p in written]}))
"""


def test_the_supervisor_imports_no_selenium_openpyxl_httpx_or_grid_before_spawning(tmp_path: Path) -> None:
    (tmp_path / "pos.csv").write_text("PO_NUMBER\nPO100001\nPO100002\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", SUPERVISOR, str(tmp_path)],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result = json.loads(done.stdout)
    modules = set(result["modules"])
    assert result["written"] == ["results.csv"]
    assert {"coupadl.cli.runner", "coupadl.pool.pool", "coupadl.pool.worker"} <= modules  # the check ran
    assert [name for name in NOT_IN_THE_SUPERVISOR if name in modules] == []
