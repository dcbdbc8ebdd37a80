"""The results sheet (`results.csv`, plus `results.xlsx` for XLSX input) and `run-summary.json`.

Every input row comes out in input order with its own columns untouched and the result columns added. Each
file is written to a temporary file in the same folder and moved into place, so a reader never sees it
half-written. Text that comes from the server and starts like a formula (`=`, `+`, `-`, `@`) is prefixed with
`'` so Excel shows it instead of running it; the operator's own columns are never changed.
"""

from __future__ import annotations

import csv
import errno
import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tenacity import wait_fixed

from coupadl.atomic import atomic_write
from coupadl.batch.input import PO_COLUMN, PREFERRED_SHEET, InputKind, POList, PORow
from coupadl.batch.progress import POProgress, iso_utc
from coupadl.coupa.po import POStatus, po_url
from coupadl.faults import raise_machine_fault
from coupadl.retrying import tries

__all__ = [
    "PENDING_MESSAGE",
    "RESULTS_CSV",
    "RESULTS_XLSX",
    "RESULT_COLUMNS",
    "RUN_SUMMARY",
    "result_rows",
    "tally",
    "write_results",
    "write_run_summary",
]

RESULTS_CSV = "results.csv"
RESULTS_XLSX = "results.xlsx"
RUN_SUMMARY = "run-summary.json"
RESULT_COLUMNS = (
    "STATUS",
    "SUPPLIER",
    "ATTACHMENTS_FOUND",
    "ATTACHMENTS_DOWNLOADED",
    "ATTACHMENT_NAMES",
    "DOWNLOAD_FOLDER",
    "COUPA_URL",
    "ATTEMPTS",
    "WORKER",
    "ERROR_MESSAGE",
    "LAST_PROCESSED",
)
REPLACE_ATTEMPTS = 5
"""Tries to replace a results file that another program holds open (Excel on Windows locks the file it
shows) before the new one is written beside it instead."""
REPLACE_WAIT_S = 0.2
"""Wait between two of those tries."""
SIDE_COPIES = 9
"""`results (1).csv` .. `results (9).csv`: the names tried beside a locked results file."""

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_INVALID_MESSAGE = "not a PO number (expected e.g. PO15262984, PM16895339 or at least 6 digits)"

Cell = str | int


def result_rows(
    po_list: POList, progress: Mapping[str, POProgress], *, base_url: str | None = None
) -> tuple[list[str], list[list[Cell]]]:
    """The results table: header and one row per input row, in input order.

    Input columns named like a result column (a results file fed back as input) are left out, so the fresh
    result is not shown next to a stale one.

    Args:
        po_list: The input.
        progress: Every known PO's state, keyed by digits (`ProgressStore.all()`).
        base_url: When given, `COUPA_URL` is filled for POs not processed yet too.

    Returns:
        `(header, rows)`; counts are ints, everything else text.
    """
    kept = _kept_input_columns(po_list)
    header = [po_list.columns[i] for i in kept] + list(RESULT_COLUMNS)
    rows = [[*(row.values[i] for i in kept), *_result_cells(row, progress, base_url)] for row in po_list.rows]
    return header, rows


def tally(po_list: POList, progress: Mapping[str, POProgress]) -> dict[str, int]:
    """Count the POs per status: each distinct PO once, each invalid row once, every status present.

    Args:
        po_list: The input.
        progress: Every known PO's state, keyed by digits.

    Returns:
        `{STATUS: count}` in `POStatus` order.
    """
    totals = {status.value: 0 for status in POStatus}
    totals[POStatus.INVALID_PO.value] = len(po_list.invalid_rows)
    for po in po_list.pos:
        state = progress.get(po.digits)
        totals[(state.status if state else POStatus.PENDING).value] += 1
    return totals


def write_results(
    out: Path, po_list: POList, progress: Mapping[str, POProgress], *, base_url: str | None = None
) -> list[Path]:
    """Write `results.csv`, and `results.xlsx` when the input was XLSX, atomically.

    The CSV is UTF-8 with BOM and uses the input's delimiter, so Excel splits it into columns on the
    operator's machine as it did the input. If a results file cannot be replaced because another program
    holds it open (Excel on Windows), the replace is tried again a few times, then the new file is written
    beside it as `results (1).csv` (the next free of `(1)`..`(9)`); the returned path says which.

    Args:
        out: The output root.
        po_list: The input.
        progress: Every known PO's state, keyed by digits (`ProgressStore.all()`).
        base_url: When given, `COUPA_URL` is filled for POs not processed yet too.

    Returns:
        The files written (a name other than `results.csv` / `results.xlsx` means the file was locked).

    Raises:
        MachineFaultError: The disk is full or `out` is gone.
        OSError: Neither the file nor any copy beside it could be written.
    """
    try:
        return _write_results(out, po_list, progress, base_url)
    except OSError as exc:
        raise_machine_fault(exc, out)
        raise


def _write_results(
    out: Path, po_list: POList, progress: Mapping[str, POProgress], base_url: str | None
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    header, rows = result_rows(po_list, progress, base_url=base_url)
    delimiter = po_list.delimiter if po_list.kind is InputKind.CSV else ","

    def write_csv(stream: IO[bytes]) -> None:
        text = _TextSink(stream)
        writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
        text.close()

    written = [_atomic_write(out / RESULTS_CSV, write_csv)]
    if po_list.kind is InputKind.XLSX:
        written.append(_atomic_write(out / RESULTS_XLSX, lambda stream: _write_xlsx(stream, header, rows)))
    return written


def write_run_summary(
    out: Path,
    *,
    started_at: datetime,
    finished_at: datetime | None,
    totals: Mapping[str, int],
    workers: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write `run-summary.json` atomically.

    Args:
        out: The output root.
        started_at: When the run started.
        finished_at: When it ended (`None` while it is still running).
        totals: `{STATUS: count}`, see `tally`.
        workers: One dict per window, in the contract's shape (`worker_id`, `profile_type`, ...).
        extra: More top-level keys (e.g. `input`, `exit_code`); they cannot replace the fixed ones.

    Returns:
        The file written.
    """
    summary: dict[str, Any] = dict(extra or {})
    summary.update(
        started_at=iso_utc(started_at),
        finished_at=iso_utc(finished_at) or None,
        totals=dict(totals),
        workers=[dict(worker) for worker in workers],
    )
    payload = json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _atomic_write(out / RUN_SUMMARY, lambda stream: stream.write(payload.encode()))
    except OSError as exc:
        raise_machine_fault(exc, out)
        raise


# --- rows ------------------------------------------------------------------------------------------------


PENDING_MESSAGE = "not processed yet: the run ended first (rerun the same command to resume)"
"""ERROR_MESSAGE of a PO the run did not reach: every row that is not COMPLETED says why."""


def _kept_input_columns(po_list: POList) -> list[int]:
    ours = {name.casefold() for name in RESULT_COLUMNS}
    return [
        index
        for index, name in enumerate(po_list.columns)
        if index == po_list.po_column or name.strip().casefold() not in ours
    ]


def _result_cells(row: PORow, progress: Mapping[str, POProgress], base_url: str | None) -> list[Cell]:
    if row.po is None:
        message = _INVALID_MESSAGE if row.raw_po.strip() else f"no value in the {PO_COLUMN} column"
        return [POStatus.INVALID_PO.value, "", "", "", "", "", "", "", "", message, ""]
    state = progress.get(row.po.digits)
    url = po_url(base_url, row.po) if base_url else ""
    if state is None:
        return [POStatus.PENDING.value, "", "", "", "", "", url, 0, "", PENDING_MESSAGE, ""]
    error = state.error_message
    if state.status is POStatus.PENDING and not error:
        error = PENDING_MESSAGE
    return [
        state.status.value,
        _neutralise(state.supplier),
        _count(state.attachments_found),
        _count(state.attachments_downloaded),
        _neutralise(";".join(state.attachment_names)),
        _neutralise(state.download_folder),
        _neutralise(state.coupa_url or url),
        state.attempts,
        _neutralise(state.worker),
        _neutralise(error),
        iso_utc(state.last_processed),
    ]


def _neutralise(text: str | None) -> str:
    if not text:
        return ""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _count(value: int | None) -> Cell:
    return "" if value is None else value


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return iso_utc(value)
    return str(value)  # enums, paths, timedeltas


# --- files -----------------------------------------------------------------------------------------------


class _TextSink:
    """A text stream over a binary one, UTF-8 with BOM, that leaves the binary stream open."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._stream.write("\ufeff".encode())

    def write(self, text: str) -> int:
        self._stream.write(text.encode())
        return len(text)

    def close(self) -> None:
        self._stream.flush()


def _write_xlsx(stream: IO[bytes], header: list[str], rows: list[list[Cell]]) -> None:
    import openpyxl  # only for XLSX input: a CSV run never loads it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook(write_only=True)
    # Named like the input sheet, so results.xlsx can be given back as input.
    sheet = workbook.create_sheet(PREFERRED_SHEET)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value: Cell, *, font: Font | None = None) -> WriteOnlyCell:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)  # XML 1.0 cannot hold most control characters
        item = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            item.data_type = "s"  # text stays text: "=..." from the input must not become a formula
        if font is not None:
            item.font = font
        return item

    sheet.append([cell(name, font=bold) for name in header])
    for row in rows:
        sheet.append([cell(value) for value in row])
    workbook.save(stream)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    # Results are an ordinary file (not owner-only), placed beside a file Excel holds when it must be.
    return atomic_write(path, write, mode=0o666 & ~_UMASK, place=_move_into_place)


def _move_into_place(temp: Path, path: Path) -> Path:
    """Replace `path` with `temp`; when another program holds `path` (Windows refuses to replace a file
    Excel shows), try again a few times, then take the first free `name (n).ext` beside it."""
    try:
        for attempt in tries(REPLACE_ATTEMPTS, wait_fixed(REPLACE_WAIT_S), PermissionError):
            with attempt:
                temp.replace(path)
        return path
    except PermissionError:
        pass
    for number in range(1, SIDE_COPIES + 1):
        side = path.with_name(f"{path.stem} ({number}){path.suffix}")
        try:
            temp.replace(side)
        except PermissionError:
            continue
        return side
    raise PermissionError(
        errno.EACCES, f"{path.name} and {SIDE_COPIES} copies beside it are held by another program", str(path)
    )
