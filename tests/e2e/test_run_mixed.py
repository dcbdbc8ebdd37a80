"""`coupadl run` on a mixed PO list: statuses, files, results.csv and run-summary.json per the contract."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import RESULT_COLUMNS, Workspace

from coupadl.sandbox import Attachment, PurchaseOrder, Requisition, SandboxServer, Scenario

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def mixed_scenario() -> Scenario:
    att = Attachment
    return Scenario(
        pos=[
            PurchaseOrder(
                "15262984", "Acme GmbH", attachments=[att("quote.pdf", 30_000), att("mail.eml", 4_000)]
            ),
            PurchaseOrder(
                "15262985", "Globex Corporation", attachments=[att("invoice.pdf", 12_000, form="anchor")]
            ),
            PurchaseOrder(
                "15262986", "Initech", attachments=[att("contract.docx", 9_000, form="anchor_download_attr")]
            ),
            PurchaseOrder(
                "15262987", "Umbrella Corp", attachments=[att("price list.xlsx", 8_000, form="data_url")]
            ),
            PurchaseOrder(
                "15262988",
                "Stark Industries",
                attachments=[
                    att("photo.jpg", 50_000, form="filename_query"),
                    att("drawings.zip", 20_000, redirect=True),
                ],
            ),
            PurchaseOrder("15262989", "Wayne Enterprises"),
            PurchaseOrder(
                "15262990",
                "Wayne Enterprises",
                requisition=Requisition("5001234", attachments=[att("approved.pdf", 6_000)]),
            ),
            PurchaseOrder("15262996", kind="not_found"),
            PurchaseOrder("15262997", "Secret Supplies", kind="forbidden"),
            PurchaseOrder("16895339", "Müller & Söhne KG", attachments=[att("delivery note.pdf", 7_000)]),
        ],
        sso_host="localhost",
    )


# (input value, expected STATUS, extra column)
ROWS = [
    ("PO15262984", "COMPLETED", "two button files"),
    ("15262985", "COMPLETED", "bare digits, anchor"),
    ("po15262986", "COMPLETED", "lower case prefix"),
    ("  PO15262987 ", "COMPLETED", "spaces around"),
    ("PO15262988", "COMPLETED", "query name + redirect"),
    ("PO15262989", "NO_ATTACHMENTS", "nothing attached"),
    ("PO15262990", "COMPLETED", "requisition fallback"),
    ("PO15262996", "PO_NOT_FOUND", "Oops page"),
    ("PO15262997", "PO_NOT_FOUND", "forbidden"),
    ("PO77777777", "PO_NOT_FOUND", "unknown to the site"),
    ("PM16895339", "COMPLETED", "PM prefix"),
    ("PO12-34", "INVALID_PO", "not a number"),
    ("", "INVALID_PO", "empty cell"),
    ("12345", "INVALID_PO", "too short"),
    ("PO15262984", "COMPLETED", "listed twice"),
]


def expected_files(server: SandboxServer, digits: str) -> list[str]:
    """SHA-256 of what the PO should yield: its own files, else its requisition's."""
    files = server.files()
    own = [f.sha256 for f in files if f.po == digits and f.owner == "order_header"]
    return sorted(own or [f.sha256 for f in files if f.po == digits])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mixed_list_every_status_file_and_summary(ws: Workspace, sandbox_factory: Any) -> None:
    server = sandbox_factory(mixed_scenario())
    source = ws.write_csv(
        "pos.csv",
        [["Requester", "PO_NUMBER", "Note"]]
        + [[f"req {i}", value, note] for i, (value, _, note) in enumerate(ROWS)],
    )

    proc = ws.run(ws.args("run", str(source), server=server, workers=3))

    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}\n{ws.logs()}"
    header, rows = ws.results()
    assert header == ["Requester", "PO_NUMBER", "Note", *RESULT_COLUMNS]
    assert len(rows) == len(ROWS)
    out = ws.out.resolve()
    for i, (row, (value, status, note)) in enumerate(zip(rows, ROWS, strict=True)):
        assert (row["Requester"], row["PO_NUMBER"], row["Note"]) == (f"req {i}", value, note)
        assert row["STATUS"] == status, f"row {i} {value!r}: {row}"
        assert row["LAST_PROCESSED"] or status == "INVALID_PO", row

    # Files: exactly what the sandbox serves, inside --out, nothing else in the folders.
    folders: dict[str, str] = {}
    for row, (value, status, _) in zip(rows, ROWS, strict=True):
        if status != "COMPLETED":
            continue
        digits = value.strip()[-8:]
        folder = Path(row["DOWNLOAD_FOLDER"])
        assert folder.is_absolute(), row
        assert folder.resolve().is_relative_to(out), row
        names = row["ATTACHMENT_NAMES"].split(";")
        saved = sorted(p.name for p in folder.iterdir())
        assert saved == sorted(names), f"{digits}: folder holds {saved}, results say {names}"
        assert sorted(sha(folder / n) for n in names) == expected_files(server, digits), digits
        assert int(row["ATTACHMENTS_FOUND"]) == int(row["ATTACHMENTS_DOWNLOADED"]) == len(names)
        assert row["COUPA_URL"] == server.po_url(digits)
        folders[digits] = row["DOWNLOAD_FOLDER"]
    assert len(set(folders.values())) == len(folders), "each PO has its own folder"
    assert rows[0]["SUPPLIER"] == "Acme GmbH"
    assert rows[10]["SUPPLIER"] == "Müller & Söhne KG"
    assert rows[-1]["DOWNLOAD_FOLDER"] == rows[0]["DOWNLOAD_FOLDER"]

    # Every saved file under --out is accounted for by a results row.
    listed = {
        Path(folders[d]) / n
        for d in folders
        for n in rows[[r[0].strip()[-8:] for r in ROWS].index(d)]["ATTACHMENT_NAMES"].split(";")
    }
    on_disk = {
        p
        for p in out.rglob("*")
        if p.is_file() and ".coupadl" not in p.relative_to(out).parts and p.parent != out
    }
    assert on_disk == listed

    # Visits: the duplicate once, invalid values never.
    gets = Counter(r.path for r in server.requests() if r.method == "GET")
    assert gets["/order_headers/15262984"] == 1
    assert not any(p.rsplit("/", 1)[-1] == "1234" or p.endswith("/12345") for p in gets)

    summary = ws.summary()
    for key in ("started_at", "finished_at", "totals", "workers"):
        assert key in summary
    assert summary["totals"]["COMPLETED"] == 7 + 0  # distinct POs completed
    assert summary["totals"]["PO_NOT_FOUND"] == 3
    assert summary["totals"]["NO_ATTACHMENTS"] == 1
    assert summary["totals"]["INVALID_PO"] == 3
    workers = summary["workers"]
    assert [w["profile_type"] for w in workers] == ["base", "clone", "clone"]
    assert Path(workers[0]["profile_path"]) == ws.profile.resolve()
    for w in workers:
        keys = {"worker_id", "profile_path", "verification", "remediations", "processed", "restarts"}
        assert keys <= set(w)
        assert w["verification"]["status"] == "success"
        assert "retry_count" in w["verification"]
        methods = w["verification"]["methods"]
        assert methods, w
        for m in methods.values():
            assert {"status", "duration_s", "detail"} <= set(m)
        # The file check does not apply to the base profile (nothing copied): skipped there.
        allowed = {"success", "skipped"} if w["profile_type"] == "base" else {"success"}
        assert {m["status"] for m in methods.values()} <= allowed, methods
        assert sum(m["status"] == "success" for m in methods.values()) >= 2, methods
    assert sum(w["processed"] for w in workers) == 11

    # Rerun of a finished list: nothing is visited, no window starts, the results stay the same.
    before = (ws.out / "results.csv").read_text(encoding="utf-8-sig")
    seen = len(server.requests())
    again = ws.run(ws.args("run", str(source), server=server, workers=3))
    assert again.returncode == 0, f"{again.stdout[-2000:]}\n{again.stderr}"
    assert len(server.requests()) == seen, "a rerun with nothing left to do reached the site"
    after = (ws.out / "results.csv").read_text(encoding="utf-8-sig")
    assert after == before  # nothing processed, so not even LAST_PROCESSED changed
