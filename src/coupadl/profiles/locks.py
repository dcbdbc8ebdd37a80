"""Is a user-data-dir in use by a browser? Read Chromium's own lock, never take it.

Linux/macOS: a running browser keeps `SingletonLock`, a symlink to `HOSTNAME-PID`. Windows: it holds
`lockfile` open for writing with delete-on-close, so nobody else can open it for writing.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from coupadl.processes import pid_running

__all__ = ["LockState", "SingletonLock", "read_singleton_lock", "windows_lockfile_held"]

SINGLETON_LOCK = "SingletonLock"
WINDOWS_LOCKFILE = "lockfile"


class LockState(StrEnum):
    """What a `SingletonLock` means for us."""

    LIVE = "live"  # this host, running process: the browser is up
    STALE = "stale"  # this host, process gone: a crash left it; Chromium takes it over
    FOREIGN = "foreign"  # another host: Chromium refuses to take it over


@dataclass(frozen=True)
class SingletonLock:
    """A parsed `SingletonLock` link."""

    target: str
    host: str
    pid: int | None
    state: LockState

    def describe(self) -> str:
        """`host` / `pid` in words."""
        pid = f"pid {self.pid}" if self.pid is not None else "unknown pid"
        return f"{pid} on host {self.host or '?'}"


def read_singleton_lock(user_data_dir: Path, hostname: str | None = None) -> SingletonLock | None:
    """The `SingletonLock` of `user_data_dir` and whether it is live, stale or foreign; None if absent.

    A `SingletonLock` that is not a link (never written by Chromium) is reported as stale.
    """
    path = user_data_dir / SINGLETON_LOCK
    try:
        target = str(path.readlink())
    except FileNotFoundError:
        return None
    except OSError:
        if not path.exists() and not path.is_symlink():
            return None
        return SingletonLock(target="", host="", pid=None, state=LockState.STALE)
    host, _, pid_text = target.rpartition("-")
    pid = int(pid_text) if pid_text.isdigit() else None
    this_host = hostname if hostname is not None else socket.gethostname()
    if host != this_host:
        state = LockState.FOREIGN
    elif pid is not None and _running(pid):
        state = LockState.LIVE
    else:
        state = LockState.STALE
    return SingletonLock(target=target, host=host, pid=pid, state=state)


def _running(pid: int) -> bool:
    """True if `pid` is a running process; a zombie (ended, not yet reaped) is not, as for Chromium."""
    return pid_running(pid, if_unknown=True)  # access denied: someone else's live process


def windows_lockfile_held(user_data_dir: Path) -> bool:
    """True if `user_data_dir/lockfile` exists and a running browser holds it (Windows).

    The file is opened for writing without truncating and closed at once: its bytes and times are unchanged.
    """
    path = user_data_dir / WINDOWS_LOCKFILE
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_WRONLY)
    except PermissionError:
        return True  # sharing violation: the browser has it open
    except OSError:
        return False
    os.close(fd)
    return False
