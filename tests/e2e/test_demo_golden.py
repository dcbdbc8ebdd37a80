"""Golden files for `coupadl demo`: its results.csv, run-summary.json and the files it saved stay the same.

The real command runs in a subprocess (real headless Chromium, 3 windows, the bundled sandbox with the
demo's PO list). Only what varies from run to run is normalised (see tests/support/golden.py); the golden
files are under tests/e2e/golden/demo/. Regenerate them with
`COUPADL_REGEN_GOLDEN=1 pytest tests/e2e/test_demo_golden.py` and review the diff.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from e2e_helpers import cli_env

from coupadl.browser.discovery import Executables
from support.golden import (
    PROCESSED,
    Normaliser,
    check_golden,
    csv_text,
    file_manifest,
    json_text,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GOLDEN = Path(__file__).parent / "golden" / "demo"
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def demo_root(executables: Executables) -> Iterator[Path]:
    """A short folder under /tmp for the demo's profile, PO list and output; removed after."""
    root = Path(tempfile.mkdtemp(prefix="cdlg-", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_demo(root: Path, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "coupadl", "demo", "--out", str(root)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        leftovers = psutil.Process(proc.pid).children(recursive=True)  # ours, by ancestry
        proc.kill()
        stdout, stderr = proc.communicate()
        for child in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        pytest.fail(f"coupadl demo did not end within {timeout} s\n{stdout[-3000:]}\n{stderr}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def _read_results(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    assert raw.startswith(BOM), "results.csv must start with a UTF-8 BOM"
    text = raw[len(BOM) :].decode("utf-8")
    assert "\n" not in text.replace("\r\n", ""), "results.csv lines must end with CRLF"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def _check_workers(header: list[str], rows: list[list[str]], summary: dict[str, Any]) -> None:
    """What the golden files leave out: every PO row names a window of the run, and each window's
    `processed` count is the number of distinct POs whose row names it."""
    windows = {w["window"]: w for w in summary["workers"]}
    worker_col, url_col = header.index("WORKER"), header.index("COUPA_URL")
    seen: dict[str, set[str]] = {}
    for row in rows:
        if row[worker_col]:
            assert row[worker_col] in windows, f"WORKER {row[worker_col]!r} is not a window of the run"
            seen.setdefault(row[worker_col], set()).add(row[url_col])
    processed = {letter: w["processed"] for letter, w in windows.items()}
    assert processed == {letter: len(seen.get(letter, ())) for letter in windows}
    assert sum(processed.values()) == summary["visited"]


def test_demo_outputs_match_golden_files(demo_root: Path) -> None:
    done = _run_demo(demo_root)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    out = demo_root / "output"

    header, rows = _read_results(out / "results.csv")
    summary = json.loads((out / "run-summary.json").read_text(encoding="utf-8"))
    _check_workers(header, rows, summary)

    paths = [(str(demo_root), "<root>")]
    for worker in summary["workers"]:
        if worker["profile_type"] == "clone":
            paths.append((str(Path(worker["profile_path"]).parent), "<clones>/<run>"))
    normalise = Normaliser(paths)

    check_golden(GOLDEN / "results.csv", csv_text([header, *normalise.csv_rows(rows, header)]))

    golden_summary = normalise.json(summary)
    for worker in golden_summary["workers"]:
        worker["processed"] = PROCESSED
    check_golden(GOLDEN / "run-summary.json", json_text(golden_summary))

    manifest = file_manifest(out, skip=[".coupadl", "results.csv", "run-summary.json"])
    check_golden(GOLDEN / "files.json", json_text(manifest))
    column = {name: header.index(name) for name in ("STATUS", "DOWNLOAD_FOLDER", "ATTACHMENT_NAMES")}
    named = {
        f"{Path(row[column['DOWNLOAD_FOLDER']]).relative_to(out).as_posix()}/{name}"
        for row in rows
        if row[column["DOWNLOAD_FOLDER"]]
        for name in row[column["ATTACHMENT_NAMES"]].split(";")
    }
    assert {entry["path"] for entry in manifest} == named, "the files saved are those results.csv names"
