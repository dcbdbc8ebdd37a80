"""Reading the operator's PO list: CSV (comma or semicolon; UTF-8, UTF-8 with BOM or cp1252) or XLSX.

The format is decided by the file's content, not its extension. Every data row is kept, in order, with all
its columns as strings, so the results can repeat them; the PO column is found by its header (`PO_NUMBER`,
matched ignoring case, spaces and underscores). Anything that makes the list unusable raises `InputError` with
one line that names the file and the problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from coupadl.coupa.po import PONumber, parse_po_number
from coupadl.errors import InputError

__all__ = ["InputKind", "POList", "PORow", "read_po_list"]

PO_COLUMN = "PO_NUMBER"
PREFERRED_SHEET = "PO_Data"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls
_DELIMITERS = ",;\t"
_TEXT_ENCODINGS = ("utf-8-sig", "cp1252")  # utf-8-sig reads plain UTF-8 too
_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x19\x1b-\x1f]")  # \x1a: DOS end-of-file mark


class InputKind(StrEnum):
    """The format the PO list was read as."""

    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True)
class PORow:
    """One data row of the input.

    Attributes:
        line: Where the row is in the source: the line (CSV) or row (XLSX) number, 1-based.
        values: Every column's value as a string, in `POList.columns` order.
        raw_po: The PO column's value as it was.
        po: The parsed PO, or `None` when the value is not a PO number (`INVALID_PO`).
        first: False when an earlier row already lists the same PO (it is processed once).
    """

    line: int
    values: tuple[str, ...]
    raw_po: str
    po: PONumber | None
    first: bool = True

    @property
    def key(self) -> str | None:
        """The PO's key in the progress store (its digits), or `None` for an invalid value."""
        return self.po.digits if self.po else None


@dataclass(frozen=True)
class POList:
    """A PO list as read from disk.

    Attributes:
        path: The input file.
        kind: CSV or XLSX (results.xlsx is written only for XLSX input).
        columns: The header, one name per column.
        po_column: The index of the PO column in `columns`.
        rows: Every data row, in input order.
        fingerprint: SHA-256 of the file's bytes, to tell whether a resumed run reads the same list.
        delimiter: The CSV delimiter (`,` for XLSX); results.csv uses it too, so the operator's Excel
            splits it into columns the same way.
        sheet: The sheet read, for XLSX input.
    """

    path: Path
    kind: InputKind
    columns: tuple[str, ...]
    po_column: int
    rows: tuple[PORow, ...]
    fingerprint: str
    delimiter: str = ","
    sheet: str | None = None

    @cached_property
    def pos(self) -> tuple[PONumber, ...]:
        """The valid POs, each once, in the order they first appear."""
        return tuple(row.po for row in self.rows if row.po is not None and row.first)

    @property
    def invalid_rows(self) -> tuple[PORow, ...]:
        """The rows whose PO value is not a PO number."""
        return tuple(row for row in self.rows if row.po is None)


def read_po_list(path: Path) -> POList:
    """Read a PO list from a CSV or XLSX file.

    Args:
        path: The input file.

    Returns:
        The list with every data row in input order.

    Raises:
        InputError: The file is missing or unreadable, is neither CSV nor XLSX, has no PO column or no data
            rows. The message is one line naming the file and the problem.
    """
    data = _read_bytes(path)
    fingerprint = hashlib.sha256(data).hexdigest()
    sheet: str | None = None
    delimiter = ","
    if data.startswith(_ZIP_MAGIC):
        kind = InputKind.XLSX
        sheet, table = _read_xlsx(path, data)
    elif data.startswith(_OLE2_MAGIC):
        raise _error(path, "this is an old Excel .xls file; save it as .xlsx or CSV")
    else:
        kind = InputKind.CSV
        delimiter, table = _read_csv(path, _decode(path, data))

    table = [(line, cells) for line, cells in table if any(cell.strip() for cell in cells)]
    if not table:
        raise _error(path, "the file is empty")
    header, body = table[0][1], table[1:]
    po_column = _find_po_column(header)
    if po_column is None:
        shown = ", ".join(repr(h) for h in header[:12] if h.strip()) or "none"
        raise _error(path, f"no {PO_COLUMN} column (headers found: {shown})")
    if not body:
        raise _error(path, f"no data rows below the {PO_COLUMN} header")

    width = max(len(cells) for _, cells in table)
    columns = tuple(_pad(header, width))
    rows = _build_rows(body, po_column, width)
    return POList(
        path=path,
        kind=kind,
        columns=columns,
        po_column=po_column,
        rows=rows,
        fingerprint=fingerprint,
        delimiter=delimiter,
        sheet=sheet,
    )


# --- reading ---------------------------------------------------------------------------------------------


_Table = list[tuple[int, list[str]]]  # (1-based source line, cells)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _error(path, "file not found") from None
    except IsADirectoryError:
        raise _error(path, "this is a folder, not a file") from None
    except PermissionError:
        raise _error(path, "permission denied") from None
    except OSError as exc:
        raise _error(path, exc.strerror or str(exc)) from None


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:65536]:
        raise _error(path, "not a CSV or XLSX file (binary content)")
    for encoding in _TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _BINARY_CONTROL.search(text[:65536]):
            raise _error(path, "not a CSV or XLSX file (binary content)")
        return text
    raise _error(path, "not a CSV or XLSX file (the text is neither UTF-8 nor Windows-1252)")


def _read_csv(path: Path, text: str) -> tuple[str, _Table]:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    for delimiter in _delimiter_candidates(text, first_line):
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        if _find_po_column(header) is not None:
            break
    else:
        delimiter = _delimiter_candidates(text, first_line)[0]
    table: _Table = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        line = 1
        for row in reader:
            table.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _error(path, f"not a readable CSV file (line {reader.line_num}: {exc})") from None
    return delimiter, table


def _delimiter_candidates(text: str, first_line: str) -> list[str]:
    counted = sorted(_DELIMITERS, key=lambda d: -first_line.count(d))
    try:
        sniffed = csv.Sniffer().sniff(text[:8192], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return counted
    return [sniffed, *(d for d in counted if d != sniffed)]


def _read_xlsx(path: Path, data: bytes) -> tuple[str, _Table]:
    import openpyxl  # only for XLSX input: a CSV run never loads it

    try:
        # openpyxl warns about workbook features it ignores (data validation, styles); none matter here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises anything from zipfile, XML or itself on bad files
        raise _error(path, f"not a readable XLSX file ({type(exc).__name__})") from None
    try:
        sheet = _pick_sheet(workbook)
        if sheet is None:
            raise _error(path, "the workbook has no worksheet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = [
                (number, [_cell_text(value) for value in row])
                for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
            ]
        return str(sheet.title), table
    finally:
        workbook.close()


def _pick_sheet(workbook: Any) -> Any:
    sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]  # skip chart sheets
    exact = [ws for ws in sheets if ws.title == PREFERRED_SHEET]
    loose = [ws for ws in sheets if str(ws.title).strip().casefold() == PREFERRED_SHEET.casefold()]
    return next(iter(exact or loose or sheets), None)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores every number as a float: 15262984.0 is 15262984
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --- shaping ---------------------------------------------------------------------------------------------


def _normalise_header(text: str) -> str:
    return re.sub(r"[\s_]+", "", text).casefold()


def _find_po_column(header: Sequence[str]) -> int | None:
    wanted = _normalise_header(PO_COLUMN)
    for index, name in enumerate(header):
        if _normalise_header(name.lstrip("\ufeff")) == wanted:
            return index
    return None


def _pad(row: Sequence[str], width: int) -> list[str]:
    return [*row, *([""] * (width - len(row)))]


def _build_rows(body: Iterable[tuple[int, list[str]]], po_column: int, width: int) -> tuple[PORow, ...]:
    rows: list[PORow] = []
    seen: dict[str, PONumber] = {}
    for line, cells in body:
        values = tuple(_pad(cells, width))
        raw = values[po_column]
        po = parse_po_number(raw)
        first = True
        if po is not None:
            if po.digits in seen:
                first = False
                po = seen[po.digits]  # the same PO object: one key, one result
            else:
                seen[po.digits] = po
        rows.append(PORow(line=line, values=values, raw_po=raw, po=po, first=first))
    return tuple(rows)


def _error(path: Path, problem: str) -> InputError:
    one_line = " ".join(problem.split())
    return InputError(f"cannot use the PO list {path}: {one_line}")
