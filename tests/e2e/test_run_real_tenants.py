"""`coupadl run` end to end against pages that behave like real tenants: every row's STATUS and ERROR_MESSAGE
exactly, HTTP 429 honoured by the whole pool, and an output folder of the previous schema resumed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import Workspace

from coupadl.sandbox import Attachment, PurchaseOrder, SandboxServer, Scenario
from support.old_output import V1Row, write_v1_output

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_CONFIG = """
settle_quiet = 1.0
settle_timeout = 3.0
throttle_slowdown = 10.0
throttle_spacing = 0.5
"""

LOADING = "'Loading attachments...' in #attachments"
NONE = "settled (document complete, nothing loading, no attachment for 1 s)"


def real_tenant_scenario() -> Scenario:
    att = Attachment
    return Scenario(
        pos=[
            PurchaseOrder("15262992", "Acme GmbH", attachments=[att("throttled.pdf")], throttle_first=2),
            PurchaseOrder(
                "15262984",
                "Acme GmbH",
                attachments=[att("late.pdf", size=30_000), att("late.eml", size=5_000, form="anchor")],
                attachments_delay_s=2.0,
                attachments_loading="aria_busy",
            ),
            PurchaseOrder("15262985", attachments=[att("never.pdf")], attachments_forever=True),
            PurchaseOrder("15262986", kind="http_404"),
            PurchaseOrder("15262987", kind="http_403"),
            PurchaseOrder("15262988", kind="not_found", language="pt-BR"),
            PurchaseOrder("15262989", kind="redirect_home"),
            PurchaseOrder("15262990", "Globex", attachments=[att("other.pdf")], shown_number="15262991"),
            PurchaseOrder(
                "15262993", "Initech", attachments=[att("schedule.xlsx", form="role_button_ancestor")]
            ),
            PurchaseOrder("15262994", "Initech"),
        ]
    )


EXPECTED = {
    "15262992": ("COMPLETED", "", "1"),
    "15262984": ("COMPLETED", "", "1"),
    "15262985": ("FAILED", f"attachments still loading after 3 s ({LOADING})", "2"),
    "15262986": ("PO_NOT_FOUND", "HTTP 404", "1"),
    "15262987": ("PO_NOT_FOUND", "HTTP 403", "1"),
    "15262988": ("PO_NOT_FOUND", "Desculpe, não encontramos o que você procurava", "1"),
    "15262989": ("FAILED", "landed on /user/home, not PO 15262989", "1"),
    "15262990": ("FAILED", "the page shows #15262991, not PO 15262990", "1"),
    "15262993": ("COMPLETED", "", "1"),
    "15262994": ("NO_ATTACHMENTS", f"PO 15262994: {NONE}; no requisition linked", "1"),
}


def page_requests(server: SandboxServer, number: str) -> list[Any]:
    return [r for r in server.requests() if r.path == f"/order_headers/{number}"]


def test_every_row_names_its_evidence_and_429_holds_every_window(ws: Workspace, sandbox_factory: Any) -> None:
    server = sandbox_factory(real_tenant_scenario())
    ws.config.write_text(ws.config.read_text(encoding="utf-8") + PAGE_CONFIG, encoding="utf-8")
    source = ws.write_csv("pos.csv", [["PO_NUMBER"]] + [[f"PO{po.number}"] for po in server.scenario.pos])

    proc = ws.run(ws.args("run", str(source), server=server, workers=2), timeout=240)

    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    got = {row["PO_NUMBER"][2:]: (row["STATUS"], row["ERROR_MESSAGE"], row["ATTEMPTS"]) for row in rows}
    assert got == EXPECTED, ws.logs()

    by_po = {row["PO_NUMBER"][2:]: row for row in rows}
    served = {f.name: f.sha256 for f in server.files()}
    for number in ("15262992", "15262984", "15262993"):
        folder = Path(by_po[number]["DOWNLOAD_FOLDER"])
        assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == {
            name: served[name] for name in by_po[number]["ATTACHMENT_NAMES"].split(";")
        }
    # Nothing saved for a PO the browser could not identify, and none of its files were asked for.
    for number in ("15262985", "15262989", "15262990"):
        assert by_po[number]["DOWNLOAD_FOLDER"] == ""
    other_id = next(f.attachment_id for f in server.files() if f.name == "other.pdf")
    assert not [r for r in server.requests() if f"/{other_id}/" in r.path]

    # 429: the GET and the HEAD reading Retry-After were throttled; the retry came >= 2 s later, and no
    # window opened another PO page meanwhile (a page already dispatched may still load in the first moment).
    throttled = page_requests(server, "15262992")
    assert [(r.method, r.status) for r in throttled] == [("GET", 429), ("HEAD", 429), ("GET", 200)]
    head, retry = throttled[1], throttled[2]
    assert retry.at - head.at >= 2.0
    assert retry.at - throttled[0].at >= 2.0
    during = [
        r
        for r in server.requests()
        if r.path.startswith("/order_headers/") and r.method == "GET" and head.at + 0.8 < r.at < head.at + 2.0
    ]
    assert during == [], [(r.path, r.at - head.at) for r in during]


def test_a_folder_of_the_previous_schema_resumes_and_its_no_attachments_are_visited_again(
    ws: Workspace, sandbox_factory: Any
) -> None:
    server = sandbox_factory(
        Scenario(
            pos=[
                PurchaseOrder("15262984", "Acme GmbH", attachments=[Attachment("done.pdf")]),
                # Version 1 missed these attachments: the page renders them by script after load.
                PurchaseOrder(
                    "15262985",
                    "Globex",
                    attachments=[Attachment("late.pdf", size=12_000)],
                    attachments_delay_s=1.5,
                    attachments_loading="placeholder",
                ),
                PurchaseOrder("15262986", "Initech"),
            ]
        )
    )
    ws.config.write_text(ws.config.read_text(encoding="utf-8") + PAGE_CONFIG, encoding="utf-8")
    source = ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262984"], ["PO15262985"], ["PO15262986"]])
    write_v1_output(
        ws.out,
        [
            V1Row("15262984", "COMPLETED", supplier="Acme GmbH", names=["done.pdf"]),
            V1Row("15262985", "NO_ATTACHMENTS", supplier="Globex"),
            V1Row("15262986", "NO_ATTACHMENTS", supplier="Initech"),
        ],
    )

    proc = ws.run(ws.args("run", str(source), server=server, workers=1))

    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    got = {row["PO_NUMBER"][2:]: (row["STATUS"], row["ERROR_MESSAGE"], row["ATTEMPTS"]) for row in rows}
    assert got == {
        "15262984": ("COMPLETED", "", "1"),  # kept from version 1, not visited
        "15262985": ("COMPLETED", "", "2"),  # attempts count across runs and versions
        "15262986": ("NO_ATTACHMENTS", f"PO 15262986: {NONE}; no requisition linked", "2"),
    }
    assert page_requests(server, "15262984") == []
    assert [r.status for r in page_requests(server, "15262985")] == [200]
    assert [r.status for r in page_requests(server, "15262986")] == [200]
    assert rows[1]["ATTACHMENT_NAMES"] == "late.pdf"
