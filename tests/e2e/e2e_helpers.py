"""Running the `coupadl` command in a subprocess the way an operator's shell would."""

from __future__ import annotations

import os
import subprocess
import sys


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without any COUPADL_* setting, warnings as errors, unbuffered, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUPADL_")}
    env["PYTHONWARNINGS"] = "error"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_cli(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m coupadl ARGS` with a clean COUPADL_* environment plus `env`; fails past `timeout`."""
    return subprocess.run(
        [sys.executable, "-m", "coupadl", *args],
        capture_output=True,
        text=True,
        env=cli_env(env),
        timeout=timeout,
        check=False,
    )
