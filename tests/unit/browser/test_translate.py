"""Selenium's errors become coupadl's at one boundary, grouped by what the caller should do."""

from pathlib import Path

import pytest
from selenium.common.exceptions import (
    InvalidSessionIdException,
    SessionNotCreatedException,
    TimeoutException,
    WebDriverException,
)

from coupadl.browser.translate import translate, translate_start_error
from coupadl.errors import (
    BrowserCrashedError,
    BrowserStartError,
    DefaultProfileRefusedError,
    DriverError,
    DriverMismatchError,
    DriverStartError,
    OperationTimeoutError,
    RetryableTaskError,
)
from coupadl.profiles import default_user_data_dir
from coupadl.settings import BrowserKind

DEVTOOLS = "session not created: DevToolsActivePort file doesn't exist"


def test_timeouts_are_typed_not_guessed_from_text() -> None:
    assert isinstance(translate(TimeoutException("page load"), "open x"), OperationTimeoutError)


@pytest.mark.parametrize(
    "exc",
    [
        InvalidSessionIdException("invalid session id"),
        WebDriverException("disconnected: not connected to DevTools"),
        WebDriverException("no such window: target window already closed"),
        ConnectionRefusedError("connection refused"),
        # Selenium Grid, the node holding the session gone (the first as a real hub answered in test_run_grid)
        WebDriverException(
            "Unable to execute request for an existing session: Unable to execute request "
            "(POST http://127.0.0.1:41277/session/d32dd1e144ad525f77826b4eb8854687/url)"
        ),
        WebDriverException("Unable to find session with ID: d32dd1e144ad525f77826b4eb8854687"),
    ],
)
def test_a_dead_browser_or_driver_means_restart_the_window(exc: BaseException) -> None:
    assert isinstance(translate(exc, "read the address"), BrowserCrashedError)


def test_other_webdriver_errors_are_worth_another_try() -> None:
    error = translate(WebDriverException("element click intercepted"), "click")
    assert type(error) is RetryableTaskError
    assert "element click intercepted" in str(error)


def test_devtools_port_on_a_clone_is_a_start_failure_that_can_be_remediated(tmp_path: Path) -> None:
    error = translate_start_error(SessionNotCreatedException(DEVTOOLS), tmp_path / "w2")
    assert type(error) is BrowserStartError


def test_devtools_port_on_the_real_default_dir_is_a_refusal_with_advice() -> None:
    default = Path(default_user_data_dir(BrowserKind.CHROMIUM))
    error = translate_start_error(SessionNotCreatedException(DEVTOOLS), default)
    assert isinstance(error, DefaultProfileRefusedError)
    assert "coupadl login" in str(error) and "all-clones" in str(error)


def test_driver_version_mismatch_is_explained_in_one_line(tmp_path: Path) -> None:
    text = (
        "session not created: This version of ChromeDriver only supports Chrome version 155\n"
        "Current browser version is 156.0.8078.73"
    )
    error = translate_start_error(SessionNotCreatedException(text), tmp_path)
    assert isinstance(error, DriverMismatchError)
    assert "155" in str(error) and "156" in str(error) and "\n" not in str(error)
    assert "coupadl driver" in str(error) and "sign in" not in str(error)


@pytest.mark.parametrize(
    "text",
    [
        "Service /opt/drivers/msedgedriver unexpectedly exited. Status code was: -9",
        "Can not connect to the Service /usr/local/bin/chromedriver",
        "'msedgedriver' executable may have wrong permissions.",
    ],
)
def test_a_driver_that_does_not_start_is_a_driver_error_not_a_window_error(tmp_path: Path, text: str) -> None:
    error = translate_start_error(WebDriverException(text), tmp_path)
    assert isinstance(error, DriverStartError) and isinstance(error, DriverError)
    assert "coupadl driver" in str(error) and "quarantine" in str(error) and "\n" not in str(error)
