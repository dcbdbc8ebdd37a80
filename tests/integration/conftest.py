"""Fixtures shared by the integration tests: one real browser window on a private signed-in profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.session import BrowserSession


@pytest.fixture
def session(launch_config: LaunchConfig, signed_in_copy: Path, short_tmp: Path) -> Iterator[BrowserSession]:
    """A browser window on a private copy of the signed-in profile, downloading into `short_tmp/dl`."""
    browser = BrowserSession.start(launch_config, signed_in_copy, "Default", short_tmp / "dl")
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def out_dir(short_tmp: Path) -> Path:
    """The output root of a test's job."""
    return short_tmp / "out"
