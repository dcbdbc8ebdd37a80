"""`coupadl doctor` on a good and on a broken set-up: one verdict (and fix) per line, exit 0 / 1, no window.

The good set-up is this machine's Debian Chromium with the driver placed in coupadl's cache, a synthetic but
complete base profile and a Coupa address; the network is unreachable throughout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.unit.profiles.profile_factory import build_profile

from coupadl.browser.versions import probe_version
from coupadl.cli.doctor import diagnose, format_check
from support.drivers import CHROMEDRIVER, CHROMIUM, fake_driver

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian chromium not installed")


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An operator's home with nothing in it: XDG folders under tmp_path, no proxy that works."""
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }


def _cache_driver(data_home: Path) -> Path:
    assert CHROMEDRIVER
    version = probe_version(Path(CHROMEDRIVER))
    assert version is not None
    target = data_home / "coupadl" / "drivers" / "chromedriver" / "linux64" / str(version) / "chromedriver"
    target.parent.mkdir(parents=True)
    shutil.copy2(CHROMEDRIVER, target)
    return target


def _doctor(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("COUPADL_")}
    return subprocess.run(
        [sys.executable, "-m", "coupadl", "doctor", *args],
        capture_output=True, text=True, env={**clean, **env}, cwd=cwd, timeout=120, check=False,
    )  # fmt: skip


def _logging_browser(tmp_path: Path) -> tuple[Path, Path]:
    """A browser executable that records how it was called, then is Chromium."""
    log = tmp_path / "browser-calls.txt"
    wrapper = tmp_path / "bin" / "chromium"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{CHROMIUM}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


def test_doctor_on_a_good_set_up_says_all_is_well(tmp_path: Path, home: dict[str, str]) -> None:
    cached = _cache_driver(Path(home["XDG_DATA_HOME"]))
    profile = build_profile(tmp_path / "profile")
    browser, calls = _logging_browser(tmp_path)
    proc = _doctor(
        ["--browser", "chromium", "--browser-binary", str(browser), "--profile", str(profile),
         "--base-url", "https://acme.coupahost.com", "--out", str(tmp_path / "out")],
        home, tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:6]] == [
        ["ok", name] for name in ("config", "address", "browser", "driver", "profile", "disk")
    ]
    driver_line = next(line for line in lines if line.startswith("ok   driver"))
    assert (
        str(cached) in driver_line
        and "coupadl's driver cache" in driver_line
        and "matches chromium" in driver_line
    )
    assert lines[-1] == "all is well" and proc.stderr == ""
    # The browser was only asked for its version: no window.
    assert calls.read_text().splitlines() == ["--version"]


def test_doctor_on_a_broken_set_up_names_each_fix(tmp_path: Path, home: dict[str, str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("wrkers = 2\n")
    old = fake_driver(tmp_path / "bin" / "chromedriver", "100.0.4896.20")
    proc = _doctor(
        ["--browser", "chromium", "--driver", str(old), "--profile", str(tmp_path / "no-profile"),
         "--config", str(config)],
        home, tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "FIX  config   unknown key 'wrkers'" in out and "did you mean 'workers'?" in out
    assert "FIX  address" in out and "--save-base-url" in out
    assert "ok   browser  chromium" in out
    assert "FIX  driver   chromedriver 100.0.4896.20" in out and "`coupadl driver`" in out
    assert "FIX  profile  missing:" in out and "coupadl login" in out
    assert out.splitlines()[-1].startswith("4 thing(s) to fix: config, address, driver, profile")
    assert "Traceback" not in proc.stderr


def test_low_disk_is_a_fix(tmp_path: Path, home: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in home.items():
        monkeypatch.setenv(key, value)
    checks = {c.name: c for c in diagnose({"out": tmp_path / "a" / "b"}, min_free=1 << 62)}
    disk = checks["disk"]
    assert not disk.ok and str(tmp_path / "a" / "b") in disk.detail and "another --out" in disk.fix
    assert format_check(disk).startswith("FIX  disk     only ")
