"""Keep imports out of the processes that do not need them (each spawned worker and the supervisor pay for
every module they import when they start: BENCHMARKS.md "Start-up of a run").

`without_modules`: import a library without an optional extra that it loads at import time only if it is
installed. structlog's console renderer loads rich when rich is installed, and httpx loads its command-line
client (`httpx._main`: click, rich, pygments). coupadl never uses either (its log lines are JSON, and plain
text on a terminal: `coupadl.log`).

`lazy_names`: a package whose public names are imported on first use (PEP 562).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["lazy_names", "without_modules"]


@contextlib.contextmanager
def without_modules(*names: str) -> Iterator[None]:
    """Inside the block, `import` of any of `names` not yet imported fails with `ModuleNotFoundError` (a
    `None` entry in `sys.modules`), so a library's `try: import extra / except ImportError:` takes its
    fallback. Afterwards the names import as usual (a module already imported is left as it is)."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def lazy_names(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`, whose public names (`homes`: name -> the module that
    defines it) are imported on first use; once imported, a name is an ordinary attribute."""
    module = sys.modules[package]

    def attribute(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(module, name, value)
        return value

    def names() -> list[str]:
        return sorted({*vars(module), *homes})

    return attribute, names
