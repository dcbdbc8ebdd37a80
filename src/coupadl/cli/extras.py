"""Optional parts of coupadl and the one line that names the extra to install when one is missing."""

from __future__ import annotations

import importlib.util

from coupadl.errors import SetupError

__all__ = ["require_demo_extra"]


def require_demo_extra() -> None:
    """Raise a one-line `SetupError` when the demo's local site cannot run (Flask, the `demo` extra)."""
    if importlib.util.find_spec("flask") is None:
        raise SetupError(
            'the demo\'s local Coupa-like site needs the `demo` extra: pip install "coupadl[demo]" '
            "(installed with pipx: pipx inject coupadl flask; with uv: uv tool install --with flask WHEEL)"
        )
