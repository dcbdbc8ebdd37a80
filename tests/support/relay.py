"""A spawned process that sends back every message it receives, unchanged: the process boundary alone.

`relay(inbox, outbox)` runs in a child of the spawn start method (like a pool worker): each message is
unpickled there, then pickled again on the way back. It ends after passing on a `Stop`.
"""

from __future__ import annotations

from typing import Any

from coupadl.pool.messages import Stop

__all__ = ["relay"]


def relay(inbox: Any, outbox: Any) -> None:
    """Pass every message from `inbox` to `outbox`, with the type it had in this process; end on `Stop`."""
    while True:
        msg = inbox.get()
        outbox.put((type(msg).__module__, type(msg).__qualname__, msg))
        if isinstance(msg, Stop):
            break
    outbox.close()
    outbox.join_thread()
