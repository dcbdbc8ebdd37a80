"""Browser and driver processes, tracked by PID and ended by PID (never by name).

A tracked process is a `coupadl.processes.ProcessIdentity` (PID and create time: a process with the same PID
but another create time is someone else's and is left alone) with the role it plays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from coupadl.processes import ProcessIdentity

__all__ = ["TrackedProcess", "alive", "end_trees", "tree_memory", "tree_processes", "wait_ended"]


@dataclass(frozen=True)
class TrackedProcess(ProcessIdentity):
    """A process we started (or our driver started), identified by PID and create time (`process()` gives
    the live process, None once it ended or its PID belongs to another)."""

    role: str = ""  # "driver", "browser", "worker": for logs and reports

    @classmethod
    def of(cls, pid: int | None, role: str = "") -> TrackedProcess | None:
        """Track `pid` as it is now; None if there is no such process."""
        identity = ProcessIdentity.of(pid)
        return cls(identity.pid, identity.create_time, role) if identity is not None else None


def alive(tracked: Iterable[TrackedProcess | None]) -> list[TrackedProcess]:
    """The tracked processes still running."""
    return [t for t in tracked if t is not None and t.process() is not None]


def wait_ended(tracked: Iterable[TrackedProcess | None], timeout: float) -> list[psutil.Process]:
    """Wait up to `timeout` seconds for the tracked processes (not their descendants) to end on their own;
    return those still running."""
    procs = [proc for item in tracked if item is not None and (proc := item.process()) is not None]
    _gone, running = psutil.wait_procs(procs, timeout=timeout)
    return list(running)


def tree_processes(tracked: Iterable[TrackedProcess | None]) -> list[psutil.Process]:
    """Each live tracked process and all its descendants, without duplicates.

    The process table is read once for all the trees (`Process.children` would read it once per process:
    a worker's memory check walks three trees of a dozen processes every couple of seconds)."""
    roots = [proc for item in tracked if item is not None and (proc := item.process()) is not None]
    if not roots:
        return []
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(proc.pid)
    seen: dict[int, psutil.Process] = {}
    todo = list(roots)
    while todo:
        proc = todo.pop()
        if proc.pid in seen:
            continue
        seen[proc.pid] = proc
        for pid in children.get(proc.pid, ()):
            with contextlib.suppress(psutil.Error):
                todo.append(psutil.Process(pid))
    return list(seen.values())


def end_trees(tracked: Iterable[TrackedProcess | None], timeout: float = 5.0) -> list[int]:
    """Terminate the tracked processes and their descendants, then kill what is left after `timeout`.

    Returns the PIDs that were still running and had to be ended.
    """
    procs = tree_processes(tracked)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _gone, survivors = psutil.wait_procs(procs, timeout=timeout)
    for proc in survivors:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(survivors, timeout=2.0)
    return [p.pid for p in procs]


def tree_memory(tracked: Iterable[TrackedProcess | None]) -> int:
    """Memory of the whole trees in bytes: USS where the OS gives it (PSS-like, not double-counting shared
    pages as RSS does; see facts/chromium-profiles.md), else RSS."""
    total = 0
    for proc in tree_processes(tracked):
        try:
            info = proc.memory_full_info()
            total += int(getattr(info, "uss", 0) or info.rss)
        except psutil.AccessDenied:
            with contextlib.suppress(psutil.Error):
                total += int(proc.memory_info().rss)
        except psutil.Error:
            continue
    return total


def tree_rss(tracked: Iterable[TrackedProcess | None]) -> int:
    """Resident memory of the whole trees in bytes: an upper bound of `tree_memory` (shared pages counted once
    per process) that costs a fraction of it (no page-table walk), for a first cheap look."""
    total = 0
    for proc in tree_processes(tracked):
        with contextlib.suppress(psutil.Error):
            total += int(proc.memory_info().rss)
    return total
