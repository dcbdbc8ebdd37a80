"""Fixtures of the profile tests: a synthetic base, a temp root, managers shut down after each test."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from profile_factory import build_profile

from coupadl.profiles.manager import ProfileManager


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return build_profile(tmp_path / "home" / "User Data")


@pytest.fixture
def temp_root(tmp_path: Path) -> Path:
    return tmp_path / "t"


@pytest.fixture
def live_lock() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@pytest.fixture
def manager_factory(base: Path, temp_root: Path) -> Iterator[Callable[..., ProfileManager]]:
    made: list[ProfileManager] = []

    def make(**kwargs: object) -> ProfileManager:
        base_path = kwargs.pop("base", base)
        options: dict[str, object] = {"temp_directory": temp_root, "max_concurrent_clones": 4}
        options.update(kwargs)
        manager = ProfileManager(base_path, **options)  # type: ignore[arg-type]
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown()
