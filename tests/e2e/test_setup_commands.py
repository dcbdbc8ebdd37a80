"""The set-up commands as an operator runs them: `driver`, `config`, `login --save-base-url`, and a driver
that fails inside the windows (exit 2 with a driver line, never "sign in again").

The network is unreachable in every test here (a proxy on a closed loopback port); per-user folders are
private to each test (XDG_CONFIG_HOME / XDG_DATA_HOME).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from e2e_helpers import run_cli
from tests.e2e.conftest import Workspace

from coupadl.browser.versions import probe_version
from coupadl.sandbox import SandboxServer, Scenario
from support.drivers import fake_driver

NO_NETWORK = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


@pytest.fixture
def user_dirs(tmp_path: Path) -> dict[str, str]:
    return {
        **NO_NETWORK,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_driver_without_network_is_one_line_exit_2(user_dirs: dict[str, str]) -> None:
    proc = run_cli(["driver", "--browser", "chromium"], env=user_dirs, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _one_error_line(proc.stderr)
    assert line.startswith("coupadl: error: Selenium Manager could not get the chromedriver")
    assert "through the proxy http://127.0.0.1:9" in line
    cache = Path(user_dirs["XDG_DATA_HOME"]) / "coupadl" / "drivers"
    assert not list(
        cache.glob("chromedriver/*/*/chromedriver")
    )  # nothing half-downloaded is left as a driver


def test_driver_already_in_the_cache_is_reported_offline_and_used_by_doctor(
    user_dirs: dict[str, str], executables: object
) -> None:
    chromedriver = shutil.which("chromedriver")
    assert chromedriver
    version = probe_version(Path(chromedriver))
    assert version is not None
    cached = (
        Path(user_dirs["XDG_DATA_HOME"]) / "coupadl" / "drivers" / "chromedriver" / "linux64" / str(version)
    )
    cached.mkdir(parents=True)
    shutil.copy2(chromedriver, cached / "chromedriver")
    proc = run_cli(["driver", "--browser", "chromium"], env=user_dirs, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "already in coupadl's cache" in proc.stdout and str(cached / "chromedriver") in proc.stdout
    doctor = run_cli(["doctor", "--browser", "chromium"], env=user_dirs, timeout=120)
    assert f"ok   driver   chromedriver {version} at {cached / 'chromedriver'}" in doctor.stdout


def test_config_shows_each_value_and_its_source(user_dirs: dict[str, str], tmp_path: Path) -> None:
    user_file = Path(user_dirs["XDG_CONFIG_HOME"]) / "coupadl" / "config.toml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text('base_url = "https://acme.coupahost.com"\nworkers = 2\n')
    extra = tmp_path / "extra.toml"
    extra.write_text('profile_name = "Profile 1"\n')
    proc = run_cli(
        ["config", "--config", str(extra), "--browser", "chromium"],
        env={**user_dirs, "COUPADL_WORKERS": "4"},
    )
    assert proc.returncode == 0, proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        if " = " in line and line.endswith(")"):
            key, rest = line.split(" = ", 1)
            value, source = rest.rsplit("  (", 1)
            rows[key.strip()] = [value.strip(), source[:-1]]
    assert rows["base_url"] == ["https://acme.coupahost.com", f"base_url in {user_file}"]
    assert rows["workers"] == ["4", "COUPADL_WORKERS"]
    assert rows["profile_name"] == ["Profile 1", f"profile_name in {extra}"]
    assert rows["browser"] == ["chromium", "--browser"]
    assert rows["headless"] == ["true", "default"]
    assert f"config files read: {user_file}, {extra}" in proc.stdout


def test_a_bad_environment_value_is_named_as_the_variable(user_dirs: dict[str, str]) -> None:
    proc = run_cli(["check", "--browser", "chromium"], env={**user_dirs, "COUPADL_WORKERS": "12"})
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr)
    assert "COUPADL_WORKERS='12'" in line and "--workers" not in line


@pytest.mark.browser
def test_login_save_base_url_writes_the_per_user_file(
    signed_in_copy: Path, sandbox: SandboxServer, xvfb_display: str, user_dirs: dict[str, str]
) -> None:
    env = {**user_dirs, "DISPLAY": xvfb_display}
    args = [
        "login",
        "--browser",
        "chromium",
        "--profile",
        str(signed_in_copy),
        "--base-url",
        sandbox.base_url,
    ]
    proc = run_cli(args, env=env, timeout=90)  # stdin is not a terminal: no offer, nothing written
    assert proc.returncode == 0, proc.stderr
    user_file = Path(user_dirs["XDG_CONFIG_HOME"]) / "coupadl" / "config.toml"
    assert not user_file.exists()
    proc = run_cli([*args, "--save-base-url"], env=env, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert f"saved base_url = {sandbox.base_url} in {user_file}" in proc.stdout
    shown = run_cli(["config"], env=user_dirs)
    assert sandbox.base_url in shown.stdout and f"base_url in {user_file}" in shown.stdout


@pytest.mark.browser
@pytest.mark.parametrize("command", ["check", "run"])
def test_a_driver_that_fails_inside_the_window_is_exit_2_not_sign_in(
    ws: Workspace, sandbox_factory: object, command: str
) -> None:
    server = sandbox_factory(Scenario.small())  # type: ignore[operator]
    browser = probe_version(ws.executables.binary)
    assert browser is not None
    # Answers --version like a matching driver (so the start-up check passes), then fails to serve.
    broken = fake_driver(ws.root / "bin" / "chromedriver", f"{browser.major}.0.1.2")
    source = ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262984"]])
    head = ["run", str(source)] if command == "run" else ["check"]
    proc = ws.run(ws.args(*head, server=server, workers=2, extra=["--driver", str(broken)]), timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "driver did not start" in proc.stderr and "coupadl driver" in proc.stderr
    assert "sign in" not in (proc.stdout + proc.stderr).lower()
    assert "Traceback" not in proc.stderr
    assert server.requests() == []
