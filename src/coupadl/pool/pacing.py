"""Throttle pacing: after the site answered HTTP 429, no task is handed out until the hold ends, then tasks go
out at most one per `spacing` seconds (across all workers) for `slowdown` seconds."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ThrottlePacing"]


@dataclass
class ThrottlePacing:
    """When the next task may be handed out (times are `time.monotonic()` seconds)."""

    spacing: float  # while paced: least time between two dispatches
    slowdown: float  # after a hold: how long dispatch stays paced
    hold_until: float = 0.0  # no dispatch before this
    paced_until: float = 0.0  # dispatch paced until this
    last_dispatch: float = 0.0

    def hold(self, now: float, retry_after_s: float) -> None:
        """The site said "retry after `retry_after_s`": hold every worker that long, then pace."""
        self.hold_until = max(self.hold_until, now + retry_after_s)
        self.paced_until = max(self.paced_until, self.hold_until + self.slowdown)

    def held(self, now: float) -> bool:
        """True while no task may be handed out at all."""
        return now < self.hold_until

    def paced(self, now: float) -> bool:
        """True while dispatch is paced (after a hold, for `slowdown` seconds)."""
        return now < self.paced_until

    def too_soon(self, now: float) -> bool:
        """True while paced and the last task went out less than `spacing` ago."""
        return now < self.paced_until and now - self.last_dispatch < self.spacing

    def dispatched(self, now: float) -> None:
        """A task was handed out at `now`."""
        self.last_dispatch = now
