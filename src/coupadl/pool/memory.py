"""Memory guard in three small parts: measure (psutil), judge (threshold, `MemoryGuard` on an interval), act
(the pool restarts the heaviest worker between two of its tasks).

Each worker is measured over its whole process tree (worker, driver, browser and its children) as USS, since
RSS counts the pages Chromium's processes share many times over (~960 MB RSS vs ~135 MB
USS: facts/chromium-profiles.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import psutil

from coupadl.browser.processes import TrackedProcess, tree_memory, tree_rss

__all__ = [
    "MemoryGuard",
    "MemoryReading",
    "MemoryVerdict",
    "judge_memory",
    "measure_workers",
    "measure_workers_rss",
    "total_memory",
]


def total_memory() -> int:
    """Physical memory of this machine in bytes."""
    return int(psutil.virtual_memory().total)


def measure_workers(trees: Mapping[int, Iterable[TrackedProcess | None]]) -> dict[int, int]:
    """USS in bytes of each worker's process tree, by worker id."""
    return {worker_id: tree_memory(list(processes)) for worker_id, processes in trees.items()}


def measure_workers_rss(trees: Mapping[int, Iterable[TrackedProcess | None]]) -> dict[int, int]:
    """RSS in bytes of each worker's process tree: never below its USS, and ~10x cheaper to read (measured:
    ~30 ms of CPU for the USS of one window's tree). While the RSS total is under the limit, so is the USS."""
    return {worker_id: tree_rss(list(processes)) for worker_id, processes in trees.items()}


@dataclass(frozen=True)
class MemoryVerdict:
    """Whether the workers together use more than their share of RAM, and who is heaviest."""

    used: int
    limit: int
    heaviest: int | None

    @property
    def over(self) -> bool:
        """True when a restart is due."""
        return self.used > self.limit and self.heaviest is not None


def judge_memory(usage: Mapping[int, int], threshold: float, total: int) -> MemoryVerdict:
    """Compare the workers' combined usage with `threshold` (share of `total`)."""
    used = sum(usage.values())
    heaviest = max(usage, key=lambda k: usage[k]) if usage else None
    return MemoryVerdict(used, int(total * threshold), heaviest)


@dataclass(frozen=True)
class MemoryReading:
    """One check: each worker's usage in bytes, the verdict, and whether it is RSS or USS."""

    usage: dict[int, int]
    verdict: MemoryVerdict
    measure: Literal["rss", "uss"]


class MemoryGuard:
    """Measures the workers at most once per `interval` seconds and judges them against `threshold` of
    `total` bytes of RAM (None: this machine's)."""

    def __init__(self, threshold: float, total: int | None, interval: float) -> None:
        self.threshold = threshold
        self.total = total
        self.interval = interval
        self._last = 0.0

    def check(self, now: float, trees: Mapping[int, Iterable[TrackedProcess | None]]) -> MemoryReading | None:
        """The reading, or None when the last check is less than `interval` ago or no worker is live.

        RSS first: it bounds USS from above and is cheap; USS (the real figure) only when RSS is over.
        """
        if now - self._last < self.interval:
            return None
        self._last = now
        if not trees:
            return None
        trees = {worker_id: list(processes) for worker_id, processes in trees.items()}
        total = self.total or total_memory()
        usage = measure_workers_rss(trees)
        verdict = judge_memory(usage, self.threshold, total)
        if not verdict.over:
            return MemoryReading(usage, verdict, "rss")
        usage = measure_workers(trees)
        return MemoryReading(usage, judge_memory(usage, self.threshold, total), "uss")
