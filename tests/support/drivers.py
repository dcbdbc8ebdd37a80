"""Stand-in driver executables for tests of driver discovery and of drivers that fail."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


def fake_driver(path: Path, version: str | None) -> Path:
    """A script that answers `--version` like chromedriver (or prints nothing) and otherwise exits 3, so a
    browser session can never start with it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    answer = f'echo "ChromeDriver {version} (fake)"' if version else "true"
    path.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then {answer}; exit 0; fi\nexit 3\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path
