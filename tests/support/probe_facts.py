"""What the page probe returns (`PROBE_JS` / `SETTLE_JS` facts) for a plain PO page, for judging tests."""

from __future__ import annotations

from typing import Any

from coupadl.coupa.page import Expected

HOST = "https://acme.coupahost.com"
PAGE = f"{HOST}/order_headers/15262984"
PO = Expected(url=PAGE, number="15262984", what="PO 15262984")
"""The page `raw_page` shows, as a task asks for it."""


def raw_page(**overrides: Any) -> dict[str, Any]:
    """What the probe returns for the PO page asked for, with `overrides` applied."""
    raw: dict[str, Any] = {
        "url": PAGE,
        "title": "Purchase Order #15262984 | Coupa",
        "status": 200,
        "ready": "complete",
        "body": 1200,
        "password": False,
        "errors": [],
        "headings": ["Purchase Order #15262984"],
        "numbers": ["15262984"],
        "suppliers": [{"attr": "Acme GmbH", "text": "Acme GmbH"}],
        "items": [],
        "requisitions": [],
    }
    raw.update(overrides)
    return raw


def item(url: str, kind: str = "anchor", ref: str = "0", **fields: Any) -> dict[str, Any]:
    base = {"ref": ref, "kind": kind, "url": url, "title": "", "aria": "", "download": None, "label": ""}
    base.update(fields)
    return base
