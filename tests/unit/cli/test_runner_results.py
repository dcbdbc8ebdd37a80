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
from coupadl.coupa.po import POStatus, SavedFile
from coupadl.coupa.task import AlreadySaved, POResult, POTask
from coupadl.pool.events import SessionExpired, TaskDispatched, TaskFinished
from coupadl.pool.tasks import TaskOutcome
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


def test_typed_events_reach_the_store_and_the_next_task_knows_what_was_saved(
    batch: tuple[BatchRun, ProgressStore, io.StringIO], tmp_path: Path
) -> None:
    run, store, _text = batch
    run._store = store
    run._letters = {1: "A", 2: "B"}
    first, second = run.po_list.pos
    url = "https://acme.coupahost.com/order_headers/100001"
    saved = SavedFile(f"{url}/attachments/7", "quote.pdf", 12, "ab" * 32, tmp_path / "quote.pdf")
    result = POResult(
        POStatus.COMPLETED,
        coupa_url=url,
        supplier="Acme GmbH",
        attachments_found=1,
        attachments_downloaded=1,
        attachment_names=("quote.pdf",),
        download_folder=str(tmp_path / "Acme GmbH" / "PO100001"),
        files=(saved,),
    )

    run._on_event(TaskDispatched(1, first.digits, 1))
    run._on_event(TaskDispatched(2, second.digits, 1))
    run._on_event(SessionExpired(2, second.digits, "signed out"))
    run._on_event(TaskFinished(TaskOutcome(first.digits, 1, 1, result=result)))

    done, back = store.all()[first.digits], store.all()[second.digits]
    assert (done.status, done.worker, done.supplier, done.attempts) == (
        POStatus.COMPLETED,
        "A",
        "Acme GmbH",
        1,
    )
    assert done.attachment_names == ("quote.pdf",) and done.coupa_url == url
    assert (back.status, back.attempts) == (POStatus.PENDING, 0), "an expired session refunds the attempt"
    task = run._task(store, first, "https://acme.coupahost.com")
    assert task == POTask(first, url, (AlreadySaved(saved.key, "quote.pdf"),))


def test_a_task_nobody_could_do_is_failed_with_its_error(
    batch: tuple[BatchRun, ProgressStore, io.StringIO],
) -> None:
    run, store, _text = batch
    run._store = store
    po = run.po_list.pos[0]
    run._on_event(TaskFinished(TaskOutcome[POResult](po.digits, None, 3, error="window lost")))
    state = store.all()[po.digits]
    assert (state.status, state.error_message, state.worker) == (POStatus.FAILED, "window lost", "")
