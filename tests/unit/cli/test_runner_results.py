"""How a run writes its results while it goes: a locked file is written beside it and said once; a file
that cannot be written at all is a warning, never the end of the run."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from coupadl.batch import ProgressStore, read_po_list
from coupadl.cli.runner import BatchRun
from coupadl.settings import load_settings


@pytest.fixture
def batch(tmp_path: Path) -> Iterator[tuple[BatchRun, ProgressStore, io.StringIO]]:
    source = tmp_path / "pos.csv"
    source.write_text("PO_NUMBER\nPO100001\nPO100002\n", encoding="utf-8")
    po_list = read_po_list(source)
    settings = load_settings({"base_url": "https://acme.coupahost.com", "out": tmp_path / "out"})
    text = io.StringIO()
    run = BatchRun(settings, po_list, Console(file=text, width=1000, highlight=False))
    with ProgressStore.open(run.out, po_list.fingerprint) as store:
        store.register(po_list.pos)
        yield run, store, text


def _refuse(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    real_replace = os.replace

    def replace(src: object, dst: object) -> None:
        if Path(str(dst)).name in names:
            raise PermissionError(13, "The process cannot access the file because it is being used")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)


def test_a_locked_results_file_is_written_beside_and_said_once(
    batch: tuple[BatchRun, ProgressStore, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    run, store, text = batch
    _refuse(monkeypatch, "results.csv")

    first = run._write_results(store)
    second = run._write_results(store)

    assert first == second == [run.out / "results (1).csv"]
    said = [line for line in text.getvalue().splitlines() if "open in another program" in line]
    assert len(said) == 1, text.getvalue()
    assert str(run.out / "results.csv") in said[0] and str(run.out / "results (1).csv") in said[0]


def test_results_that_cannot_be_written_at_all_are_a_warning_not_a_crash(
    batch: tuple[BatchRun, ProgressStore, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    run, store, text = batch
    _refuse(monkeypatch, "results.csv", *(f"results ({n}).csv" for n in range(1, 10)))

    assert run._write_results(store) == []
    assert "results not written" in text.getvalue()
    assert run.fault is None
