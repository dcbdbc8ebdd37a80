"""PO tasks for tests that call the Coupa job (`process_po`) directly, built as `BatchRun` builds them."""

from __future__ import annotations

from collections.abc import Mapping

from coupadl.coupa.po import parse_po_number
from coupadl.coupa.task import AlreadySaved, POTask
from coupadl.sandbox import SandboxServer

__all__ = ["po_task"]


def po_task(server: SandboxServer, number: str, saved: Mapping[str, str] | None = None) -> POTask:
    """The task for PO `number` on `server`; `saved`: attachment key → file name saved before."""
    po = parse_po_number(f"PO{number}")
    assert po is not None, number
    return POTask(po, server.po_url(number), tuple(AlreadySaved(k, v) for k, v in (saved or {}).items()))
