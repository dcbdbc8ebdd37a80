"""The exit codes of the contract, by name."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """What `coupadl` tells scripts when it ends."""

    OK = 0  # every PO final, none FAILED or PARTIAL (check: every window verified)
    SOME_FAILED = 1  # the run finished, some POs FAILED or PARTIAL
    SETUP = 2  # bad arguments, input, base profile, browser or driver: nothing was started
    NO_WINDOW = 3  # no window could be verified (e.g. session expired): POs stay PENDING
    MACHINE_FAULT = 4  # stopped by a fault of the machine (disk full, output folder gone): windows closed,
    # clones removed, progress saved; the same command resumes once fixed
    INTERRUPTED = 130  # Ctrl+C / SIGTERM: windows closed, clones removed, progress saved
