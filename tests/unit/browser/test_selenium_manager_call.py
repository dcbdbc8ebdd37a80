"""How `coupadl driver` calls Selenium Manager: the flags that keep it from fetching a browser or taking a
driver from PATH, the cache folder, the proxy, and its answers read into one line.

Selenium Manager itself needs the internet, which these tests never reach: a stand-in executable records its
arguments and answers the way Selenium Manager's JSON output does.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from coupadl.browser.drivers import fetch_driver, selenium_manager_binary, system_proxy
from coupadl.browser.versions import Version
from coupadl.errors import DriverDownloadError
from coupadl.settings import BrowserKind


def _manager(tmp_path: Path, result: dict[str, object], code: int = 0) -> tuple[Path, Path]:
    args_file = tmp_path / "args.txt"
    answer = json.dumps({"logs": [], "result": result})
    script = tmp_path / "selenium-manager"
    script.write_text(
        f'#!/bin/sh\nfor a in "$@"; do echo "$a"; done > {shlex.quote(str(args_file))}\n'
        f"printf '%s\\n' {shlex.quote(answer)}\nexit {code}\n"
    )
    script.chmod(0o755)
    return script, args_file


def test_the_call_never_fetches_a_browser_and_fills_coupadls_cache(tmp_path: Path) -> None:
    cache = tmp_path / "drivers"
    driver = cache / "msedgedriver" / "linux64" / "131.0.2903.86" / "msedgedriver"
    driver.parent.mkdir(parents=True)
    driver.write_text("")
    manager, args_file = _manager(tmp_path, {"code": 0, "message": "", "driver_path": str(driver)})
    got = fetch_driver(
        BrowserKind.EDGE,
        Path("/opt/microsoft/msedge/msedge"),
        Version((131, 0, 2903, 86)),
        cache=cache,
        proxy="http://proxy.corp:8080",
        manager=manager,
    )
    assert got == driver
    args = args_file.read_text().splitlines()
    pairs = dict(zip(args, [*args[1:], ""], strict=True))
    assert pairs["--browser"] == "edge" and pairs["--browser-version"] == "131"
    assert pairs["--browser-path"] == "/opt/microsoft/msedge/msedge"
    assert pairs["--cache-path"] == str(cache) and pairs["--proxy"] == "http://proxy.corp:8080"
    assert pairs["--output"] == "json"
    for flag in ("--skip-driver-in-path", "--avoid-browser-download", "--avoid-stats"):
        assert flag in args
    assert "--force-browser-download" not in args and "--offline" not in args


def test_chromium_is_resolved_as_chrome_without_a_proxy(tmp_path: Path) -> None:
    driver = tmp_path / "chromedriver"
    driver.write_text("")
    manager, args_file = _manager(tmp_path, {"code": 0, "message": "", "driver_path": str(driver)})
    fetch_driver(BrowserKind.CHROMIUM, Path("/usr/bin/chromium"), None, cache=tmp_path, manager=manager)
    args = args_file.read_text().splitlines()
    assert args[args.index("--browser") + 1] == "chrome"
    assert "--proxy" not in args and "--browser-version" not in args


def test_its_error_is_one_line(tmp_path: Path) -> None:
    message = "error sending request for url (https://msedgedriver.microsoft.com/LATEST_RELEASE_131)\nmore"
    manager, _ = _manager(tmp_path, {"code": 65, "message": message, "driver_path": ""}, code=65)
    with pytest.raises(DriverDownloadError) as info:
        fetch_driver(BrowserKind.EDGE, Path("/x/msedge"), None, cache=tmp_path, manager=manager)
    text = str(info.value)
    assert "\n" not in text and "LATEST_RELEASE_131" in text and "is this machine online?" in text


def test_output_that_is_not_its_json_is_one_line(tmp_path: Path) -> None:
    script = tmp_path / "selenium-manager"
    script.write_text("#!/bin/sh\necho 'segfault somewhere' >&2\nexit 139\n")
    script.chmod(0o755)
    with pytest.raises(DriverDownloadError, match="Selenium Manager failed: segfault somewhere"):
        fetch_driver(BrowserKind.EDGE, Path("/x/msedge"), None, cache=tmp_path, manager=script)


def test_the_bundled_selenium_manager_is_found() -> None:
    assert selenium_manager_binary().is_file()


def test_system_proxy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert system_proxy() == "http://127.0.0.1:3128"
