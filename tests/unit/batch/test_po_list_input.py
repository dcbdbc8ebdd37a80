"""Reading the PO list: CSV in every accepted encoding and delimiter, XLSX, and every unusable input."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import openpyxl
import pytest

from coupadl.batch.input import InputKind, read_po_list
from coupadl.errors import InputError, SetupError


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def _png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


# --- CSV ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b"")],
)
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_encodings_and_delimiters(tmp_path: Path, encoding: str, prefix: bytes, delimiter: str) -> None:
    text = delimiter.join(["PO_NUMBER", "Supplier", "Note"]) + "\r\n"
    text += delimiter.join(["PO15262984", "Müller GmbH", "café € – ok"]) + "\r\n"
    text += delimiter.join(["PM16895339", "Société Générale", ""]) + "\r\n"
    path = _write(tmp_path / "pos.csv", prefix + text.encode(encoding))

    po_list = read_po_list(path)

    assert po_list.kind is InputKind.CSV
    assert po_list.delimiter == delimiter
    assert po_list.columns == ("PO_NUMBER", "Supplier", "Note")
    assert po_list.po_column == 0
    assert [row.values for row in po_list.rows] == [
        ("PO15262984", "Müller GmbH", "café € – ok"),
        ("PM16895339", "Société Générale", ""),
    ]
    assert [po.display for po in po_list.pos] == ["PO15262984", "PM16895339"]
    assert [row.line for row in po_list.rows] == [2, 3]
    assert len(po_list.fingerprint) == 64


@pytest.mark.parametrize(
    "header", ["PO Number", "po_number", " PO_NUMBER ", "Po_Number", "PO  NUMBER", "ponumber"]
)
def test_po_column_header_variants(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path / "pos.csv", f"Company;{header};Amount\nACME;PO15262984;12,50\n".encode())
    po_list = read_po_list(path)
    assert po_list.po_column == 1
    assert po_list.columns[1] == header
    assert po_list.rows[0].values == ("ACME", "PO15262984", "12,50")
    assert po_list.rows[0].key == "15262984"


def test_semicolon_file_with_commas_in_values(tmp_path: Path) -> None:
    path = _write(tmp_path / "pos.csv", b"Supplier, Inc.;PO_NUMBER\nA, B and C;15262984\n")
    po_list = read_po_list(path)
    assert po_list.delimiter == ";"
    assert po_list.rows[0].values == ("A, B and C", "15262984")


def test_quoted_values_with_delimiters_and_newlines(tmp_path: Path) -> None:
    path = _write(tmp_path / "pos.csv", b'PO_NUMBER,Note\nPO15262984,"a, b\nsecond line"\nPO16895339,x\n')
    po_list = read_po_list(path)
    assert [row.values for row in po_list.rows] == [("PO15262984", "a, b\nsecond line"), ("PO16895339", "x")]
    assert [row.line for row in po_list.rows] == [2, 4]


def test_single_column_csv(tmp_path: Path) -> None:
    path = _write(tmp_path / "pos.csv", b"PO_NUMBER\nPO15262984\n16895339\n")
    assert [po.digits for po in read_po_list(path).pos] == ["15262984", "16895339"]


def test_rows_keep_order_invalid_values_and_duplicates(tmp_path: Path) -> None:
    content = "PO_NUMBER,Row\nPO15262984,1\nnot-a-po,2\n15262984,3\n,4\npm16895339,5\nPO15262984,6\n"
    po_list = read_po_list(_write(tmp_path / "pos.csv", content.encode()))

    assert [row.values[1] for row in po_list.rows] == ["1", "2", "3", "4", "5", "6"]
    assert [row.key for row in po_list.rows] == ["15262984", None, "15262984", None, "16895339", "15262984"]
    assert [row.first for row in po_list.rows] == [True, True, False, True, True, False]
    assert [po.display for po in po_list.pos] == ["PO15262984", "PM16895339"]  # each PO once
    assert [row.raw_po for row in po_list.invalid_rows] == ["not-a-po", ""]
    assert po_list.rows[2].po is po_list.rows[0].po  # one PO, one result
    assert po_list.rows[2].raw_po == "15262984"


def test_blank_lines_are_skipped_and_ragged_rows_padded(tmp_path: Path) -> None:
    content = b"PO_NUMBER,A\n\nPO15262984\n,,\nPO16895339,x,extra\n\n"
    po_list = read_po_list(_write(tmp_path / "pos.csv", content))
    assert po_list.columns == ("PO_NUMBER", "A", "")
    assert [row.values for row in po_list.rows] == [("PO15262984", "", ""), ("PO16895339", "x", "extra")]


def test_content_decides_not_the_extension(tmp_path: Path) -> None:
    as_txt = _write(tmp_path / "list.txt", b"PO_NUMBER\nPO15262984\n")
    assert read_po_list(as_txt).kind is InputKind.CSV
    xlsx_named_csv = _xlsx(tmp_path / "book.csv", {"Sheet": [["PO_NUMBER"], ["PO15262984"]]})
    assert read_po_list(xlsx_named_csv).kind is InputKind.XLSX
    csv_named_xlsx = _write(tmp_path / "list.xlsx", b"PO_NUMBER\nPO15262984\n")
    assert read_po_list(csv_named_xlsx).kind is InputKind.CSV


# --- XLSX -----------------------------------------------------------------------------------------------


def test_xlsx_prefers_po_data_sheet(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "pos.xlsx",
        {
            "Notes": [["Nothing here"]],
            "PO_Data": [["Supplier", "PO Number", "Amount", "Date"], ["ACME", 15262984, 12.5, None]],
        },
    )
    po_list = read_po_list(path)
    assert po_list.kind is InputKind.XLSX
    assert po_list.sheet == "PO_Data"
    assert po_list.columns == ("Supplier", "PO Number", "Amount", "Date")
    assert po_list.rows[0].values == ("ACME", "15262984", "12.5", "")
    assert po_list.pos[0].display == "PO15262984"


def test_xlsx_without_po_data_uses_the_first_sheet(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "pos.xlsx",
        {"Orders": [["po_number", "Flag"], ["PM16895339", True]], "Other": [["PO_NUMBER"], ["PO15262984"]]},
    )
    po_list = read_po_list(path)
    assert po_list.sheet == "Orders"
    assert po_list.rows[0].values == ("PM16895339", "TRUE")


def test_xlsx_floats_become_digits(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "pos.xlsx", {"PO_Data": [["PO_NUMBER"], [15262984.0], [16895339], ["PO1"]]})
    po_list = read_po_list(path)
    assert [row.values[0] for row in po_list.rows] == ["15262984", "16895339", "PO1"]
    assert [row.key for row in po_list.rows] == ["15262984", "16895339", None]


def test_xlsx_skips_empty_rows_and_keeps_dates(tmp_path: Path) -> None:
    import datetime as dt

    path = _xlsx(
        tmp_path / "pos.xlsx",
        {"PO_Data": [["PO_NUMBER", "When"], [None, None], ["PO15262984", dt.datetime(2024, 5, 1)]]},
    )
    po_list = read_po_list(path)
    assert [row.values for row in po_list.rows] == [("PO15262984", "2024-05-01")]
    assert po_list.rows[0].line == 3


# --- unusable input -------------------------------------------------------------------------------------


def _assert_one_line_error(path: Path, match: str) -> None:
    with pytest.raises(InputError) as info:
        read_po_list(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert match in message
    assert isinstance(info.value, SetupError)


def test_missing_file(tmp_path: Path) -> None:
    _assert_one_line_error(tmp_path / "nope.csv", "file not found")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    _assert_one_line_error(tmp_path, "folder")


def test_no_po_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "pos.csv", b"Order,Supplier\nPO15262984,ACME\n")
    _assert_one_line_error(path, "no PO_NUMBER column (headers found: 'Order', 'Supplier')")


def test_xlsx_without_po_column(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "pos.xlsx", {"PO_Data": [["Order"], ["PO15262984"]]})
    _assert_one_line_error(path, "no PO_NUMBER column")


def test_png(tmp_path: Path) -> None:
    _assert_one_line_error(_write(tmp_path / "scan.png", _png_bytes()), "not a CSV or XLSX file")


def test_png_renamed_csv(tmp_path: Path) -> None:
    _assert_one_line_error(_write(tmp_path / "pos.csv", _png_bytes()), "not a CSV or XLSX file")


def test_random_binary_renamed_csv(tmp_path: Path) -> None:
    data = bytes(range(1, 256)) * 20  # no NUL byte, still binary
    _assert_one_line_error(_write(tmp_path / "pos.csv", data), "not a CSV or XLSX file")


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "pos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    _assert_one_line_error(path, "not a readable XLSX file")


def test_truncated_xlsx(tmp_path: Path) -> None:
    good = _xlsx(tmp_path / "good.xlsx", {"PO_Data": [["PO_NUMBER"], ["PO15262984"]]})
    path = _write(tmp_path / "pos.xlsx", good.read_bytes()[:200])
    _assert_one_line_error(path, "not a readable XLSX file")


def test_legacy_xls(tmp_path: Path) -> None:
    path = _write(tmp_path / "pos.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    _assert_one_line_error(path, "old Excel .xls")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b" ; ;\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    _assert_one_line_error(_write(tmp_path / "pos.csv", content), "the file is empty")


@pytest.mark.parametrize("content", [b"PO_NUMBER\n", b"PO_NUMBER;Supplier\r\n;\r\n\r\n"])
def test_header_only(tmp_path: Path, content: bytes) -> None:
    _assert_one_line_error(_write(tmp_path / "pos.csv", content), "no data rows")


def test_xlsx_header_only(tmp_path: Path) -> None:
    _assert_one_line_error(_xlsx(tmp_path / "pos.xlsx", {"PO_Data": [["PO_NUMBER"]]}), "no data rows")


def test_empty_xlsx(tmp_path: Path) -> None:
    _assert_one_line_error(_xlsx(tmp_path / "pos.xlsx", {"PO_Data": []}), "the file is empty")
