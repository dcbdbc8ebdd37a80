"""Import a library without an optional extra that it loads at import time only if it is installed.

structlog's console renderer loads rich when rich is installed, and httpx loads its command-line client
(`httpx._main`: click, rich, pygments). coupadl never uses either (its log lines are JSON, and plain text on a
terminal: `coupadl.log`), and each spawned worker process would pay for them when it starts.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = ["without_modules"]


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
