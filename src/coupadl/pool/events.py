"""Events the pool emits for whoever watches it (progress display, progress store). The display never
reaches into worker internals; it only sees these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PoolEvent"]


@dataclass(frozen=True)
class PoolEvent:
    """Something happened: `kind` (e.g. `worker_ready`, `task_finished`), which worker, and details."""

    kind: str
    worker_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
