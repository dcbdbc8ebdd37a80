"""A pool without processes: two READY workers whose inboxes remember what the supervisor sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from coupadl.browser.discovery import Executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.pool.events import PoolEvent
from coupadl.pool.handle import WorkerHandle
from coupadl.pool.pool import PersistentWorkerPool, PoolConfig
from coupadl.pool.states import WorkerStatus
from coupadl.profiles.models import ProfileType, VerificationConfig
from coupadl.settings import BrowserKind


class Inbox:
    """Stands in for a worker's queue: remembers what the supervisor sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def put(self, msg: Any) -> None:
        self.sent.append(msg)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[PersistentWorkerPool]:
    config = PoolConfig(
        worker_count=2,
        launch=LaunchConfig(Executables(BrowserKind.CHROMIUM, Path("/x/chromium"), Path("/x/chromedriver"))),
        verification=VerificationConfig(auth_check_url="http://127.0.0.1:9/user/home"),
        handler="support.handlers:visit",
        state_dir=tmp_path,
        max_task_attempts=2,
        throttle_slowdown_s=0.6,
        throttle_spacing_s=0.3,
        max_throttled=3,
    )
    events: list[PoolEvent[Any]] = []
    pool: PersistentWorkerPool[dict[str, Any], Any] = PersistentWorkerPool(
        config, [], on_event=events.append, clone_slots=object()
    )
    pool.events = events  # type: ignore[attr-defined]
    for wid in (1, 2):
        worker = WorkerHandle(wid, SimpleNamespace(letter="AB"[wid - 1], profile_type=ProfileType.CLONE))  # type: ignore[arg-type]
        worker.inbox = Inbox()
        worker.set(WorkerStatus.READY)
        pool.workers[wid] = worker
    try:
        yield pool
    finally:
        pool._outbox.close()
        pool._outbox.join_thread()
