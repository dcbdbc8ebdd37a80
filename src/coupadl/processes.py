"""Process identity: a PID together with its process's create time, the one way coupadl tells whether a
process it knew is still the same running process.

A PID alone can be reused by the OS after its process ends, so an identity also remembers the create time; a
process with the same PID but another create time is someone else's. psutil derives create time from boot
time and clock ticks: equal for one process up to rounding, hence `CREATE_TIME_TOLERANCE_S`. A zombie (ended,
not yet reaped) is not running.

Used by the browser layer (`TrackedProcess`: processes ended by PID), the profile layer (owner markers of temp
folders, the sweep) and the worker's watch on its supervisor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

__all__ = ["CREATE_TIME_TOLERANCE_S", "ProcessIdentity", "pid_running"]

CREATE_TIME_TOLERANCE_S = 0.1


@dataclass(frozen=True)
class ProcessIdentity:
    """One process: its PID and its create time (seconds since the epoch, as psutil reports it)."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int | None) -> ProcessIdentity | None:
        """The identity of `pid` as it is now; None if there is no such process (or it may not be read)."""
        if not pid:
            return None
        try:
            return cls(pid, psutil.Process(pid).create_time())
        except psutil.Error:
            return None

    @classmethod
    def current(cls) -> ProcessIdentity:
        """This process."""
        return cls(os.getpid(), psutil.Process().create_time())

    def process(self) -> psutil.Process | None:
        """The running process, or None if it ended, is a zombie, is another process with the same PID, or
        may not be looked at (access denied: not ours to act on)."""
        try:
            proc = psutil.Process(self.pid)
            if not self._same(proc) or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def is_alive(self, *, if_unknown: bool = True) -> bool:
        """True while this very process runs. `if_unknown` answers when the OS refuses to say (access
        denied): True to keep what a live stranger may own, False to skip what we may not end anyway."""
        try:
            proc = psutil.Process(self.pid)
            return bool(self._same(proc) and proc.status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False
        except psutil.Error:
            return if_unknown

    def _same(self, proc: psutil.Process) -> bool:
        return bool(abs(proc.create_time() - self.create_time) <= CREATE_TIME_TOLERANCE_S)


def pid_running(pid: int, *, if_unknown: bool = True) -> bool:
    """True if some process with `pid` runs (not a zombie), for PIDs known without a create time (e.g. the
    one a browser's lock names); `if_unknown` as in `ProcessIdentity.is_alive`."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return if_unknown
