"""What a spawned worker imports before its window can start (issue 10): none of the CLI's, the settings' or
the Grid's modules, nor the optional extras structlog and httpx would load (rich, click, pygments, trio).

Each check runs in a fresh interpreter (`sys.executable`), since this test process has imported everything.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import coupadl
from coupadl.browser.discovery import Executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.coupa.job import JobOptions
from coupadl.pool.worker import WorkerSpec
from coupadl.profiles.models import ProfileType, VerificationConfig
from coupadl.settings import BrowserKind

SRC = Path(coupadl.__file__).resolve().parents[1]
ROOT = SRC.parent

NOT_IN_A_WORKER = [
    "pydantic",
    "pydantic_settings",
    "rich",
    "click",
    "pygments",
    "httpx._main",  # httpx's command-line client
    "coupadl.settings",
    "coupadl.cli.app",
    "coupadl.grid",
    "coupadl.browser.remote",
    "coupadl.pool.pool",  # the supervisor's side of the pool
]

# As a spawned worker: unpickle its spec (the classes in it are imported then), import the worker module and
# resolve the handler, set up logging (echoed to the terminal too), choose the window source.
WORKER = """
import json, pickle, sys
spec = pickle.loads(sys.stdin.buffer.read())
from coupadl.pool.worker import configure_logging, resolve_handler
from coupadl.pool.sources import window_source
resolve_handler(spec.handler)
configure_logging(None, worker=spec.letter, echo=True)
source = window_source(spec, None)
print(json.dumps({"modules": sorted(sys.modules), "source": type(source).__name__}))
"""


def _run(code: str, stdin: bytes = b"") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=stdin,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _spec(tmp_path: Path) -> WorkerSpec:
    executables = Executables(BrowserKind.CHROMIUM, Path("/x/chromium"), Path("/x/chromedriver"))
    return WorkerSpec(
        worker_id=2,
        profile_type=ProfileType.CLONE,
        base_profile_path=tmp_path / "base",
        profile_name="Default",
        launch=LaunchConfig(executables),
        verification=VerificationConfig(auth_check_url="http://127.0.0.1:9/user/home"),
        handler="coupadl.coupa.job:process_po",
        download_dir=tmp_path / "staging",
        supervisor_pid=1,
        handler_options=JobOptions(base_url="http://127.0.0.1:9", out_dir=tmp_path / "out"),
        log_echo=True,
    )


def test_a_local_worker_imports_no_cli_settings_grid_or_optional_extras(tmp_path: Path) -> None:
    result = _run(WORKER, pickle.dumps(_spec(tmp_path)))
    modules = set(result["modules"])  # type: ignore[call-overload]
    assert result["source"] == "LocalWindowSource"
    assert "coupadl.coupa.job" in modules and "selenium" in modules  # the check ran where it should
    assert [name for name in NOT_IN_A_WORKER if name in modules] == []


def test_the_first_http_client_does_not_load_trio() -> None:
    code = """
import json, sys
from coupadl.coupa.http_clients import HttpClients
HttpClients().for_url("http://127.0.0.1:9/file")
print(json.dumps({"modules": sorted(sys.modules)}))
"""
    modules = set(_run(code)["modules"])  # type: ignore[call-overload]
    assert "httpcore" in modules  # the client is there
    assert "trio" not in modules


def test_the_console_script_imports_the_command_only_when_it_runs() -> None:
    # A worker spawned by the `coupadl` console script imports the script again (as `__mp_main__`).
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module, _, function = scripts["coupadl"].partition(":")
    code = f"""
import json, sys
from {module} import {function}
print(json.dumps({{"modules": sorted(sys.modules)}}))
"""
    modules = set(_run(code)["modules"])  # type: ignore[call-overload]
    assert [name for name in ("coupadl.cli.app", "click", "rich", "pydantic") if name in modules] == []
