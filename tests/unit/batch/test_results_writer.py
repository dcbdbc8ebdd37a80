"""results.csv, results.xlsx, run-summary.json: content, order, encoding, safe cells, atomic writes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from coupadl.batch.input import POList, read_po_list
from coupadl.batch.progress import POOutcome, POProgress, ProgressStore
from coupadl.batch.results import (
    PENDING_MESSAGE,
    REPLACE_ATTEMPTS,
    RESULT_COLUMNS,
    result_rows,
    tally,
    write_results,
    write_run_summary,
)
from coupadl.coupa.po import POStatus
from coupadl.errors import MachineFaultError

BASE = "https://acme.coupahost.com"


def _csv_input(tmp_path: Path, text: str, delimiter: str = ",") -> POList:
    path = tmp_path / "pos.csv"
    path.write_text(text.replace(",", delimiter), encoding="utf-8")
    return read_po_list(path)


def _xlsx_input(tmp_path: Path) -> POList:
    path = tmp_path / "pos.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["PO_NUMBER"])
    sheet.append(["PO100001"])
    workbook.save(path)
    return read_po_list(path)


def _progress(tmp_path: Path, po_list: POList, outcomes: dict[str, POOutcome]) -> dict[str, POProgress]:
    with ProgressStore.open(tmp_path / "state", po_list.fingerprint) as store:
        store.register(po_list.pos)
        for po in po_list.pos:
            if po.digits in outcomes:
                store.mark_started(po, outcomes[po.digits].worker or "A")
                store.record(po, outcomes[po.digits])
        return store.all()


def _read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline=""), delimiter=delimiter))


INPUT = (
    "Row,PO_NUMBER,Note\n"
    "1,PO100001,first\n"
    '2,garbage,=HYPERLINK("x")\n'
    "3,PM100002,\n"
    "4,100001,dup\n"
    "5,PO100003,never reached\n"
    "6,,empty\n"
)


def _outcomes() -> dict[str, POOutcome]:
    return {
        "100001": POOutcome(
            status=POStatus.COMPLETED,
            supplier="=cmd|' /C calc'!A0",
            attachments_found=2,
            attachments_downloaded=2,
            attachment_names=["a.pdf", "@b.pdf"],
            download_folder="/out/S/PO100001",
            coupa_url=f"{BASE}/order_headers/100001",
            worker="B",
        ),
        "100002": POOutcome(
            status=POStatus.FAILED,
            supplier="Müller GmbH",
            coupa_url=f"{BASE}/order_headers/100002",
            worker="A",
            error_message="-page timed out",
        ),
    }


def test_results_csv_content_and_order(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, INPUT)
    progress = _progress(tmp_path, po_list, _outcomes())
    out = tmp_path / "out"

    written = write_results(out, po_list, progress, base_url=BASE)

    assert written == [out / "results.csv"]
    rows = _read_csv(out / "results.csv")
    assert rows[0] == ["Row", "PO_NUMBER", "Note", *RESULT_COLUMNS]
    by_column = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["Row"] for r in by_column] == ["1", "2", "3", "4", "5", "6"]
    assert [r["STATUS"] for r in by_column] == [
        "COMPLETED",
        "INVALID_PO",
        "FAILED",
        "COMPLETED",  # the duplicate shows its PO's result
        "PENDING",
        "INVALID_PO",
    ]
    first, invalid, failed, dup, pending, empty = by_column
    # server text that looks like a formula is neutralised...
    assert first["SUPPLIER"] == "'=cmd|' /C calc'!A0"
    assert first["ATTACHMENT_NAMES"] == "a.pdf;@b.pdf"  # only a cell's first character matters to Excel
    assert failed["ERROR_MESSAGE"] == "'-page timed out"
    # ...the operator's own cells never are
    assert invalid["Note"] == '=HYPERLINK("x")'
    assert first["ATTACHMENTS_FOUND"] == "2"
    assert first["ATTACHMENTS_DOWNLOADED"] == "2"
    assert first["DOWNLOAD_FOLDER"] == "/out/S/PO100001"
    assert first["COUPA_URL"] == f"{BASE}/order_headers/100001"
    assert first["ATTEMPTS"] == "1"
    assert first["WORKER"] == "B"
    assert first["LAST_PROCESSED"].endswith("Z")
    assert datetime.fromisoformat(first["LAST_PROCESSED"]).tzinfo == UTC
    assert dup == {**first, "Row": "4", "PO_NUMBER": "100001", "Note": "dup"}
    assert failed["SUPPLIER"] == "Müller GmbH"
    assert "not a PO number" in invalid["ERROR_MESSAGE"]
    assert invalid["COUPA_URL"] == ""
    assert "no value" in empty["ERROR_MESSAGE"]
    assert pending["COUPA_URL"] == f"{BASE}/order_headers/100003"
    # The contract: every row that is not COMPLETED says why in ERROR_MESSAGE, a PO not reached too.
    assert (pending["ATTEMPTS"], pending["LAST_PROCESSED"], pending["ERROR_MESSAGE"]) == (
        "0",
        "",
        PENDING_MESSAGE,
    )


def test_attachment_names_are_semicolon_separated(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    progress = _progress(
        tmp_path,
        po_list,
        {"100001": POOutcome(status=POStatus.COMPLETED, attachment_names=["a.pdf", "b (2).pdf", "c.eml"])},
    )
    write_results(tmp_path, po_list, progress)
    rows = _read_csv(tmp_path / "results.csv")
    assert rows[1][rows[0].index("ATTACHMENT_NAMES")] == "a.pdf;b (2).pdf;c.eml"


@pytest.mark.parametrize("first", ["=x.pdf", "+x.pdf", "-x.pdf", "@x.pdf"])
def test_names_starting_like_a_formula_are_neutralised(tmp_path: Path, first: str) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    outcome = POOutcome(status=POStatus.COMPLETED, attachment_names=[first, "b.pdf"], supplier=first)
    header, rows = result_rows(po_list, _progress(tmp_path, po_list, {"100001": outcome}))
    assert rows[0][header.index("ATTACHMENT_NAMES")] == f"'{first};b.pdf"
    assert rows[0][header.index("SUPPLIER")] == f"'{first}"


def test_semicolon_input_gives_semicolon_results(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER,Supplier name\nPO100001,A\n", delimiter=";")
    write_results(tmp_path / "out", po_list, {})
    rows = _read_csv(tmp_path / "out" / "results.csv", delimiter=";")
    assert rows[0][:3] == ["PO_NUMBER", "Supplier name", "STATUS"]
    assert rows[1][:3] == ["PO100001", "A", "PENDING"]


def test_nothing_processed_is_all_pending(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\nPO100002\n")
    header, rows = result_rows(po_list, {})
    status = header.index("STATUS")
    assert [row[status] for row in rows] == ["PENDING", "PENDING"]
    assert {row[header.index("ERROR_MESSAGE")] for row in rows} == {PENDING_MESSAGE}


def test_stale_result_columns_of_a_fed_back_results_file_are_replaced(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER,Note,STATUS,worker\nPO100001,keep,FAILED,A\n")
    header, rows = result_rows(po_list, {})
    assert header == ["PO_NUMBER", "Note", *RESULT_COLUMNS]
    assert rows[0][:3] == ["PO100001", "keep", "PENDING"]


def test_results_xlsx_for_xlsx_input(tmp_path: Path) -> None:
    source = tmp_path / "pos.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "PO_Data"
    sheet.append(["PO_NUMBER", "Note"])
    sheet.append(["PO100001", "=1+1 typed as text"])
    sheet.append([100002, None])
    sheet.append(["bad", "x"])
    # openpyxl would store "=1+1..." as a formula; make it a plain string like a typed cell.
    sheet["B2"].data_type = "s"
    workbook.save(source)
    po_list = read_po_list(source)
    progress = _progress(tmp_path, po_list, _outcomes())
    out = tmp_path / "out"

    written = write_results(out, po_list, progress)

    assert written == [out / "results.csv", out / "results.xlsx"]
    result = openpyxl.load_workbook(out / "results.xlsx")
    assert result.sheetnames == ["PO_Data"]
    cells = list(result["PO_Data"].iter_rows())
    values = [[c.value for c in row] for row in cells]
    assert values[0] == ["PO_NUMBER", "Note", *RESULT_COLUMNS]
    header = values[0]
    assert [row[0] for row in values[1:]] == ["PO100001", "100002", "bad"]
    assert [row[header.index("STATUS")] for row in values[1:]] == ["COMPLETED", "FAILED", "INVALID_PO"]
    assert values[1][1] == "=1+1 typed as text"
    assert cells[1][1].data_type == "s"  # still text, not a formula
    supplier = cells[1][header.index("SUPPLIER")]
    assert supplier.value == "'=cmd|' /C calc'!A0"
    assert supplier.data_type == "s"
    assert values[1][header.index("ATTACHMENTS_FOUND")] == 2
    # the file can be given back as input
    again = read_po_list(out / "results.xlsx")
    assert [po.digits for po in again.pos] == ["100001", "100002"]


def test_csv_input_writes_no_xlsx(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    write_results(tmp_path / "out", po_list, {})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results.csv"]


def test_rewrite_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    out = tmp_path / "out"
    write_results(out, po_list, {})
    progress = _progress(tmp_path, po_list, {"100001": POOutcome(status=POStatus.NO_ATTACHMENTS)})
    write_results(out, po_list, progress)
    write_run_summary(out, started_at=datetime.now(UTC), finished_at=None, totals={}, workers=[])
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "run-summary.json"]
    assert _read_csv(out / "results.csv")[1][1] == "NO_ATTACHMENTS"


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    out = tmp_path / "out"
    write_results(out, po_list, {})
    before = (out / "results.csv").read_bytes()

    def explode(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", explode)
    progress = _progress(tmp_path, po_list, {"100001": POOutcome(status=POStatus.COMPLETED)})
    with pytest.raises(MachineFaultError, match=f"disk holding {out} is full") as caught:
        write_results(out, po_list, progress)
    assert caught.value.folder == str(out)
    assert (out / "results.csv").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]


def _refuse_replace(
    monkeypatch: pytest.MonkeyPatch, names: set[str], *, times: int | None = None
) -> list[str]:
    """Make `os.replace` onto the files called `names` fail as Windows does when Excel holds them open
    (`times` times, or always); returns the names of the refused tries."""
    real_replace = os.replace
    refused: list[str] = []

    def replace(src: object, dst: object, *args: object, **kwargs: object) -> None:
        name = Path(str(dst)).name
        if name in names and (times is None or len(refused) < times):
            refused.append(name)
            raise PermissionError(13, "The process cannot access the file because it is being used")
        real_replace(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)
    return refused


def test_locked_results_are_retried_then_written_beside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    out = tmp_path / "out"
    write_results(out, po_list, {})
    before = (out / "results.csv").read_bytes()
    refused = _refuse_replace(monkeypatch, {"results.csv"})
    progress = _progress(tmp_path, po_list, {"100001": POOutcome(status=POStatus.COMPLETED)})

    (written,) = write_results(out, po_list, progress)

    assert refused == ["results.csv"] * REPLACE_ATTEMPTS
    assert written == out / "results (1).csv"
    assert (out / "results.csv").read_bytes() == before  # the open file is left as it is
    assert "COMPLETED" in written.read_text(encoding="utf-8-sig")
    assert {p.name for p in out.iterdir()} == {"results.csv", "results (1).csv"}


def test_a_copy_beside_that_is_locked_too_takes_the_next_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    out = tmp_path / "out"
    write_results(out, po_list, {})
    write_results(out, po_list, {})
    (out / "results (1).csv").write_text("opened in Excel", encoding="utf-8")
    _refuse_replace(monkeypatch, {"results.csv", "results (1).csv"})

    (written,) = write_results(out, po_list, {})

    assert written.name == "results (2).csv"
    assert (out / "results (1).csv").read_text(encoding="utf-8") == "opened in Excel"


def test_a_lock_released_while_retrying_writes_the_file_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    out = tmp_path / "out"
    write_results(out, po_list, {})
    refused = _refuse_replace(monkeypatch, {"results.csv"}, times=2)
    progress = _progress(tmp_path, po_list, {"100001": POOutcome(status=POStatus.COMPLETED)})

    (written,) = write_results(out, po_list, progress)

    assert len(refused) == 2
    assert written == out / "results.csv"
    assert "COMPLETED" in written.read_text(encoding="utf-8-sig")
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]


def test_locked_xlsx_gets_its_own_copy_beside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po_list = _xlsx_input(tmp_path)
    out = tmp_path / "out"
    write_results(out, po_list, {})
    _refuse_replace(monkeypatch, {"results.xlsx"})

    written = write_results(out, po_list, {})

    assert [p.name for p in written] == ["results.csv", "results (1).xlsx"]
    assert openpyxl.load_workbook(written[1]).sheetnames


def test_a_really_unreplaceable_file_gets_a_copy_beside(tmp_path: Path) -> None:
    """An immutable file (chattr +i) refuses a rename onto it even to root, as Windows refuses to replace a
    file Excel holds open: no patching, the real system call fails."""
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("chattr is not installed")
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    out = tmp_path / "out"
    write_results(out, po_list, {})
    locked = out / "results.csv"
    before = locked.read_bytes()
    if subprocess.run([chattr, "+i", str(locked)], capture_output=True, check=False).returncode != 0:
        pytest.skip("this file system has no immutable attribute")
    try:
        progress = _progress(tmp_path, po_list, {"100001": POOutcome(status=POStatus.COMPLETED)})
        (written,) = write_results(out, po_list, progress)
        assert written == out / "results (1).csv"
        assert locked.read_bytes() == before
        assert not [p for p in out.iterdir() if p.name.startswith(".")], "a temp file was left"
    finally:
        subprocess.run([chattr, "-i", str(locked)], check=True)


def test_tally_counts_each_po_once(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, INPUT)
    progress = _progress(tmp_path, po_list, _outcomes())
    totals = tally(po_list, progress)
    assert list(totals) == [s.value for s in POStatus]
    assert totals == {
        "COMPLETED": 1,
        "PARTIAL": 0,
        "NO_ATTACHMENTS": 0,
        "PO_NOT_FOUND": 0,
        "INVALID_PO": 2,
        "FAILED": 1,
        "PENDING": 1,
    }


def test_run_summary(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, INPUT)
    totals = tally(po_list, _progress(tmp_path, po_list, _outcomes()))
    worker = {
        "worker_id": "A",
        "profile_type": "base",
        "profile_path": Path("/p"),
        "verification": {"status": "success", "methods": {}, "retry_count": 0},
        "remediations": [],
        "processed": 2,
        "restarts": 0,
    }
    path = write_run_summary(
        tmp_path / "out",
        started_at=datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
        finished_at=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
        totals=totals,
        workers=[worker],
        extra={"input": "pos.csv", "started_at": "must not win"},
    )
    assert path == tmp_path / "out" / "run-summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    assert summary["started_at"] == "2025-03-01T09:00:00Z"
    assert summary["finished_at"] == "2025-03-01T10:00:00Z"
    assert summary["totals"] == totals
    assert summary["workers"] == [{**worker, "profile_path": "/p"}]
    assert summary["input"] == "pos.csv"


def test_run_summary_while_running(tmp_path: Path) -> None:
    path = write_run_summary(
        tmp_path, started_at=datetime.now(UTC), finished_at=None, totals={"PENDING": 3}, workers=[]
    )
    summary = json.loads(path.read_text(encoding="utf-8"))
    assert summary["finished_at"] is None
    assert summary["totals"] == {"PENDING": 3}


def test_a_folder_nothing_can_be_written_in_raises_and_keeps_the_old_file(tmp_path: Path) -> None:
    """An immutable folder (chattr +i, binding root too) takes no temp file: the error is raised for the run
    to report (it is not a fault of the machine: the disk is fine), and the old results stay as they were."""
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("chattr is not installed")
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    out = tmp_path / "out"
    write_results(out, po_list, {})
    before = (out / "results.csv").read_bytes()
    if subprocess.run([chattr, "+i", str(out)], capture_output=True, check=False).returncode != 0:
        pytest.skip("this file system has no immutable attribute")
    try:
        with pytest.raises(PermissionError):
            write_results(out, po_list, {})
        assert sorted(p.name for p in out.iterdir()) == ["results.csv"]
        assert (out / "results.csv").read_bytes() == before
    finally:
        subprocess.run([chattr, "-i", str(out)], check=True)


def test_results_are_an_ordinary_file_not_a_private_temp_file(tmp_path: Path) -> None:
    po_list = _csv_input(tmp_path, "PO_NUMBER\nPO100001\n")
    out = tmp_path / "out"
    (written,) = write_results(out, po_list, {})
    mask = os.umask(0o022)
    os.umask(mask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~mask
