"""Awkward server file names, XLSX in and out, semicolon cp1252 CSV, and `coupadl check`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from tests.e2e.conftest import RESULT_COLUMNS, Workspace

from coupadl.sandbox import Attachment, PurchaseOrder, Scenario

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AWKWARD = [
    Attachment("../../etc/passwd.pdf", size=4_000),
    Attachment("scans/2024\\march.pdf", size=5_000, form="anchor"),
    Attachment("CON.txt", size=300, form="anchor_download_attr"),
    Attachment("Übersicht Preise – 2024 (final) 東京.pdf", size=7_000, form="data_url"),
    Attachment("A" * 240 + " very long attachment name.pdf", size=3_000, form="filename_query"),
    Attachment('report "final" <v2>: draft?.docx', size=6_000),
    Attachment("quote.pdf", size=11_000),
    Attachment("quote.pdf", size=13_000, form="anchor"),
]


def test_awkward_names_stay_inside_the_po_folder(ws: Workspace, sandbox_factory: Any) -> None:
    po = PurchaseOrder("15262992", "Müller & Söhne KG", attachments=AWKWARD)
    server = sandbox_factory(Scenario(pos=[po]))
    source = ws.write_csv("pos.csv", [["PO_NUMBER"], ["PO15262992"]])

    proc = ws.run(ws.args("run", str(source), server=server, workers=1))

    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    assert rows[0]["STATUS"] == "COMPLETED", rows[0]
    folder = Path(rows[0]["DOWNLOAD_FOLDER"])
    assert folder.is_absolute() and folder.resolve().is_relative_to(ws.out.resolve())
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert all(p.parent == folder for p in files), files
    for p in files:
        assert len(p.name.encode()) <= 255
        assert "/" not in p.name and "\\" not in p.name and not p.name.startswith(".")
        assert p.stem.upper() != "CON", p.name
    got = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in files)
    assert got == sorted(f.sha256 for f in server.files()), [p.name for p in files]
    assert sorted(rows[0]["ATTACHMENT_NAMES"].split(";")) == sorted(p.name for p in files)
    outside = [
        p
        for p in ws.root.rglob("*")
        if p.is_file() and "passwd" in p.name and not p.resolve().is_relative_to(folder.resolve())
    ]
    assert outside == []


def _small_site() -> Scenario:
    return Scenario(
        pos=[
            PurchaseOrder("15262984", "Acme GmbH", attachments=[Attachment("quote.pdf", 9_000)]),
            PurchaseOrder(
                "15262985", "Globex", attachments=[Attachment("invoice.pdf", 8_000, form="anchor")]
            ),
            PurchaseOrder("15262986", "Initech"),
        ]
    )


def test_xlsx_in_and_out(ws: Workspace, sandbox_factory: Any) -> None:
    server = sandbox_factory(_small_site())
    book = Workbook()
    first = book.active
    first.title = "Notes"
    first.append(["nothing here"])
    sheet = book.create_sheet("PO_Data")
    sheet.append(["Requester", "PO Number", "Amount"])
    data = (["Ana", "PO15262984", 12.5], ["Bo", "pm15262985", 3], ["Cy", "15262986", None], ["Di", "x", 1])
    for row in data:
        sheet.append(row)
    source = ws.root / "pos.xlsx"
    book.save(source)

    proc = ws.run(ws.args("run", str(source), server=server, workers=2))

    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    _, rows = ws.results()
    assert [r["STATUS"] for r in rows] == ["COMPLETED", "COMPLETED", "NO_ATTACHMENTS", "INVALID_PO"]
    assert [r["Requester"] for r in rows] == ["Ana", "Bo", "Cy", "Di"]
    out = load_workbook(ws.out / "results.xlsx", read_only=True)
    values = [list(r) for r in out.worksheets[0].iter_rows(values_only=True)]
    out.close()
    assert list(values[0]) == ["Requester", "PO Number", "Amount", *RESULT_COLUMNS]
    status_at = values[0].index("STATUS")
    assert [v[status_at] for v in values[1:]] == ["COMPLETED", "COMPLETED", "NO_ATTACHMENTS", "INVALID_PO"]
    assert [v[0] for v in values[1:]] == ["Ana", "Bo", "Cy", "Di"]


def test_semicolon_cp1252_csv(ws: Workspace, sandbox_factory: Any) -> None:
    server = sandbox_factory(_small_site())
    source = ws.write_csv(
        "pos.csv",
        [["Bestellnummer Notiz", "po_number"], ["Grüße", "PO15262984"], ["Straße", "PO15262986"]],
        delimiter=";",
        encoding="cp1252",
    )

    proc = ws.run(ws.args("run", str(source), server=server, workers=1))

    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    header, rows = ws.results()
    assert header[:2] == ["Bestellnummer Notiz", "po_number"]
    assert [(r["Bestellnummer Notiz"], r["STATUS"]) for r in rows] == [
        ("Grüße", "COMPLETED"),
        ("Straße", "NO_ATTACHMENTS"),
    ]


def test_check_good_and_signed_out_profile(ws: Workspace, sandbox_factory: Any) -> None:
    server = sandbox_factory(_small_site())
    good = ws.run(ws.args("check", server=server, workers=3), timeout=120)
    assert good.returncode == 0, f"{good.stdout[-3000:]}\n{good.stderr}"
    assert "3 of 3 windows verified" in good.stdout

    server.expire_all_sessions()
    bad = ws.run(ws.args("check", server=server, workers=3), timeout=120)
    assert bad.returncode == 3, f"{bad.stdout[-3000:]}\n{bad.stderr}"
    assert "0 of 3 windows verified" in bad.stdout
