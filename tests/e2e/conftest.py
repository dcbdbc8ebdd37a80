"""Helpers for end-to-end tests: `coupadl` runs as a real subprocess against a sandbox site.

Every run gets a private copy of the signed-in profile and an output folder directly under /tmp (short
paths: Chromium dies when its socket path passes 108 bytes).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from e2e_helpers import cli_env

from coupadl.browser.discovery import Executables
from coupadl.sandbox import SandboxServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RESULT_COLUMNS = [
    "STATUS", "SUPPLIER", "ATTACHMENTS_FOUND", "ATTACHMENTS_DOWNLOADED", "ATTACHMENT_NAMES",
    "DOWNLOAD_FOLDER", "COUPA_URL", "ATTEMPTS", "WORKER", "ERROR_MESSAGE", "LAST_PROCESSED",
]  # fmt: skip

# Small timeouts keep failures fast; keys are `Settings` field names.
FAST_CONFIG = """\
download_start_timeout = 4.0
download_timeout = 30.0
page_load_timeout = 20.0
task_timeout = 60.0
auth_check_timeout = 10.0
shutdown_timeout = 15.0
max_task_attempts = 2
"""

BROWSER_NAMES = ("chromium", "chrome", "chromedriver")

# Caches and locks a profile copy does not need (same list as tests/conftest.py).
_PROFILE_COPY_SKIP = shutil.ignore_patterns(
    "Singleton*", "lockfile", "LOCK", "DevToolsActivePort", "Cache", "Code Cache", "GPUCache", "*Dawn*Cache",
    "GrShaderCache", "ShaderCache", "Crashpad", "BrowserMetrics*", "component_crx_cache",
)  # fmt: skip


def copy_profile(source: Path, target: Path) -> Path:
    """Copy a closed user-data-dir without caches and lock files; returns `target`."""
    shutil.copytree(source, target, ignore=_PROFILE_COPY_SKIP, symlinks=True)
    return target


@dataclass
class Workspace:
    """One test's folders: a signed-in profile copy, the output root and a config file."""

    root: Path
    profile: Path
    out: Path
    config: Path
    executables: Executables
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def args(
        self,
        *command: str,
        server: SandboxServer | None = None,
        workers: int = 3,
        profile: Path | None = None,
        extra: Sequence[str] = (),
    ) -> list[str]:
        """The full `python -m coupadl ...` command line with this workspace's browser options."""
        cmd = [
            sys.executable,
            "-m",
            "coupadl",
            *command,
            "--browser",
            "chromium",
            "--driver",
            str(self.executables.driver),
            "--browser-binary",
            str(self.executables.binary),
            "--profile",
            str(profile or self.profile),
            "--out",
            str(self.out),
            "--workers",
            str(workers),
            "--config",
            str(self.config),
            *extra,
        ]
        if server is not None:
            cmd += ["--base-url", server.base_url]
        return cmd

    def run(self, cmd: list[str], timeout: float = 150.0) -> subprocess.CompletedProcess[str]:
        """Run to the end; fails the test if it takes longer than `timeout`."""
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=self.root
        )
        self.procs.append(proc)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            leftovers = browser_descendants(proc.pid)
            proc.kill()
            stdout, stderr = proc.communicate()
            for child in leftovers:
                child.kill()
            pytest.fail(f"coupadl did not end within {timeout} s\n{stdout[-3000:]}\n{stderr}\n{self.logs()}")
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)

    def start(self, cmd: list[str]) -> subprocess.Popen[str]:
        """Start in the background (its output goes to files under the workspace)."""
        log = (self.root / f"proc{len(self.procs)}.log").open("w")
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=cli_env(), cwd=self.root
        )
        log.close()
        self.procs.append(proc)
        return proc

    def write_csv(
        self, name: str, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8"
    ) -> Path:
        """An input CSV under the workspace."""
        path = self.root / name
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
        path.write_bytes(buffer.getvalue().encode(encoding))
        return path

    # --- reading what coupadl wrote -------------------------------------------------------------

    def results(self) -> tuple[list[str], list[dict[str, str]]]:
        """Header and rows of `results.csv` (checks the UTF-8 BOM)."""
        raw = (self.out / "results.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), "results.csv must start with a UTF-8 BOM"
        text = raw[3:].decode("utf-8")
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;")
        reader = csv.reader(io.StringIO(text), dialect)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "run-summary.json").read_text(encoding="utf-8"))
        return data

    def logs(self) -> str:
        """Everything under `<out>/.coupadl/logs/` (for failure messages)."""
        folder = self.out / ".coupadl" / "logs"
        if not folder.is_dir():
            return "(no logs)"
        files = sorted(p for p in folder.glob("*") if p.is_file())
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in files)


def browser_descendants(pid: int) -> list[psutil.Process]:
    """Browser or driver processes below `pid` (by ancestry, never by name alone)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if any(word in child.name().lower() for word in BROWSER_NAMES) and child.status() != "zombie":
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def wait_until(predicate: Any, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


@pytest.fixture
def ws(signed_in_profile: Path, executables: Executables) -> Iterator[Workspace]:
    """A fresh workspace; any `coupadl` still running at the end is killed with its browsers."""
    root = Path(tempfile.mkdtemp(prefix="cdle-", dir="/tmp"))
    config = root / "fast.toml"
    config.write_text(FAST_CONFIG, encoding="utf-8")
    profile = copy_profile(signed_in_profile, root / "p")
    workspace = Workspace(root, profile, root / "out", config, executables)
    try:
        yield workspace
    finally:
        for proc in workspace.procs:
            if proc.poll() is None:
                leftovers = browser_descendants(proc.pid)
                proc.kill()
                proc.wait(30)
                for child in leftovers:
                    child.kill()
        shutil.rmtree(root, ignore_errors=True)
