"""The durable progress store: reopen, resume, --fresh, the run lock, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coupadl.batch.progress import (
    OutputInUseError,
    POOutcome,
    ProgressCorruptError,
    ProgressStore,
    iso_utc,
    state_dir,
)
from coupadl.batch.progress_db import REVISITED_MESSAGE, SCHEMA_VERSION
from coupadl.coupa.po import PONumber, POStatus, parse_po_number
from coupadl.errors import ConfigError, SetupError
from support.old_output import V1Row, write_v1_output


def _po(text: str) -> PONumber:
    po = parse_po_number(text)
    assert po is not None
    return po


A, B, C, D, E, F = (_po(f"PO10000{n}") for n in range(1, 7))


def _complete(store: ProgressStore, po: PONumber, status: POStatus, worker: str = "A") -> None:
    store.mark_started(po, worker)
    store.record(po, POOutcome(status=status, worker=worker))


def test_creates_state_under_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with ProgressStore.open(out, "f1", input_path="pos.csv") as store:
        assert store.path == out / ".coupadl" / "progress.sqlite"
        assert store.path.exists()
        mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_full_record_survives_reopen(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1", input_path="pos.csv") as store:
        store.register([A, B])
        assert store.mark_started(A, "B") == 1
        store.record(
            A,
            POOutcome(
                status=POStatus.PARTIAL,
                supplier="ACME",
                attachments_found=3,
                attachments_downloaded=2,
                attachment_names=["a.pdf", "b (2).pdf"],
                download_folder="/out/ACME/PO100001",
                coupa_url="https://x/order_headers/100001",
                worker="B",
                error_message="c.pdf: timed out",
            ),
        )
    before = datetime.now(UTC) - timedelta(seconds=2)

    with ProgressStore.open(tmp_path, "f1") as store:
        state = store.get(A)
        assert state is not None
        assert state.po == A
        assert state.status is POStatus.PARTIAL
        assert state.supplier == "ACME"
        assert (state.attachments_found, state.attachments_downloaded) == (3, 2)
        assert state.attachment_names == ("a.pdf", "b (2).pdf")
        assert state.download_folder == "/out/ACME/PO100001"
        assert state.coupa_url == "https://x/order_headers/100001"
        assert state.attempts == 1
        assert state.worker == "B"
        assert state.error_message == "c.pdf: timed out"
        assert state.last_processed is not None
        assert state.last_processed.tzinfo is not None
        assert state.last_processed >= before.replace(microsecond=0)
        assert not state.in_flight
        assert store.get("100002") is not None
        assert store.get(B) == store.get("100002")
        assert store.get("999999") is None
        assert list(store.all()) == ["100001", "100002"]


def test_resume_skips_final_statuses_only(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1") as store:
        store.register([A, B, C, D, E, F])
        _complete(store, A, POStatus.COMPLETED)
        _complete(store, B, POStatus.NO_ATTACHMENTS)
        _complete(store, C, POStatus.PO_NOT_FOUND)
        _complete(store, D, POStatus.FAILED)
        _complete(store, E, POStatus.PARTIAL)
        # F never reached: PENDING
    with ProgressStore.open(tmp_path, "f1") as store:
        assert store.todo() == [D, E, F]
        assert store.run_info.resumed


def test_todo_follows_the_given_order_and_includes_unknown_pos(tmp_path: Path) -> None:
    new = _po("PM999999")
    with ProgressStore.open(tmp_path, "f1") as store:
        store.register([A, B, C])
        _complete(store, B, POStatus.COMPLETED)
        assert store.todo([C, new, B, A]) == [C, new, A]


def test_register_keeps_known_state(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1") as store:
        store.register([A])
        _complete(store, A, POStatus.COMPLETED)
        store.register([A, B])
        state = store.get(A)
        assert state is not None
        assert state.status is POStatus.COMPLETED
        assert store.todo() == [B]


def test_in_flight_po_of_a_crashed_run_is_reclaimed(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1") as store:
        store.register([A, B])
        store.mark_started(A, "A")
        state = store.get(A)
        assert state is not None
        assert state.in_flight
    with ProgressStore.open(tmp_path, "f1") as store:
        state = store.get(A)
        assert state is not None
        assert not state.in_flight
        assert state.status is POStatus.PENDING
        assert state.attempts == 1  # the attempt happened
        assert store.todo() == [A, B]


def test_release_refunds_the_attempt(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1") as store:
        store.register([A])
        store.mark_started(A, "A")
        store.release(A)
        state = store.get(A)
        assert state is not None
        assert (state.attempts, state.in_flight, state.status) == (0, False, POStatus.PENDING)
        store.release(A)  # not in flight: nothing to refund
        state = store.get(A)
        assert state is not None
        assert state.attempts == 0


def test_attempts_count_across_runs(tmp_path: Path) -> None:
    for expected in (1, 2, 3):
        with ProgressStore.open(tmp_path, "f1") as store:
            assert store.mark_started(A, "A") == expected
            store.record(A, POOutcome(status=POStatus.FAILED, error_message="boom"))
    with ProgressStore.open(tmp_path, "f1") as store:
        state = store.get(A)
        assert state is not None
        assert state.worker == "A"  # kept when the outcome names no worker


def test_final_statuses_do_not_change(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1") as store:
        _complete(store, A, POStatus.COMPLETED)
        with pytest.raises(ValueError, match="already COMPLETED"):
            store.record(A, POOutcome(status=POStatus.FAILED))
        with pytest.raises(ValueError, match="already COMPLETED"):
            store.mark_started(A, "B")
        state = store.get(A)
        assert state is not None
        assert state.status is POStatus.COMPLETED


def test_pending_is_not_an_outcome(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1") as store, pytest.raises(ValueError, match="release"):
        store.record(A, POOutcome(status=POStatus.PENDING))


def test_saved_files_are_remembered(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1") as store:
        store.add_file(A, "https://x/attachment/1/a.pdf", "a.pdf", 123, "ab" * 32)
        store.add_file(A, "att-2", "b.pdf", 7, "cd" * 32)
    with ProgressStore.open(tmp_path, "f1") as store:
        saved = store.saved_file(A, "https://x/attachment/1/a.pdf")
        assert saved is not None
        assert (saved.key, saved.name, saved.size, saved.sha256) == (
            "https://x/attachment/1/a.pdf",
            "a.pdf",
            123,
            "ab" * 32,
        )
        assert saved.saved_at.tzinfo is not None
        assert store.saved_file(A, "unknown") is None
        assert store.saved_file(B, "att-2") is None
        assert [f.name for f in store.files(A)] == ["a.pdf", "b.pdf"]


def test_fresh_forgets_progress_but_keeps_files(tmp_path: Path) -> None:
    downloaded = tmp_path / "ACME" / "PO100001" / "a.pdf"
    downloaded.parent.mkdir(parents=True)
    downloaded.write_bytes(b"pdf")
    with ProgressStore.open(tmp_path, "f1") as store:
        store.register([A, B])
        _complete(store, A, POStatus.COMPLETED)
        store.add_file(A, "k", "a.pdf", 3, "00" * 32)
    with ProgressStore.open(tmp_path, "f2", fresh=True) as store:
        assert store.all() == {}
        assert store.saved_file(A, "k") is None
        assert not store.run_info.resumed
        assert store.run_info.previous_fingerprint is None
        store.register([A, B])
        assert store.todo() == [A, B]
    assert downloaded.read_bytes() == b"pdf"


def test_run_metadata(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1", input_path=tmp_path / "pos.csv") as store:
        info = store.run_info
        assert info.input_path == str(tmp_path / "pos.csv")
        assert info.input_fingerprint == "f1"
        assert info.previous_fingerprint is None
        assert info.finished_at is None
        assert abs(info.started_at - datetime.now(UTC)) < timedelta(seconds=5)
        store.finish_run()
        assert store.run_info.finished_at is not None
    with ProgressStore.open(tmp_path, "f2", input_path="other.csv") as store:
        info = store.run_info
        assert (info.input_fingerprint, info.previous_fingerprint) == ("f2", "f1")
        assert info.finished_at is None


def test_second_open_on_the_same_out_is_refused(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1"):
        with pytest.raises(OutputInUseError) as info:
            ProgressStore.open(tmp_path, "f1")
        assert isinstance(info.value, ConfigError)
        assert isinstance(info.value, SetupError)
        assert "\n" not in str(info.value)
        assert str(tmp_path) in str(info.value)
    with ProgressStore.open(tmp_path, "f1"):  # released on close
        pass


def _child(code: str, out: Path) -> subprocess.Popen[str]:
    script = textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


_HOLD = """
    import sys
    from pathlib import Path
    from coupadl.batch.progress import ProgressStore, POOutcome
    from coupadl.coupa.po import parse_po_number, POStatus
    store = ProgressStore.open(Path(sys.argv[1]), "f1")
    po = parse_po_number("PO100001")
    store.register([po, parse_po_number("PO100002")])
    store.mark_started(po, "A")
    store.record(po, POOutcome(status=POStatus.COMPLETED, worker="A", attachment_names=["a.pdf"]))
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_lock_refuses_another_process_and_dies_with_it(tmp_path: Path) -> None:
    child = _child(_HOLD, tmp_path)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(OutputInUseError, match="already using"):
            ProgressStore.open(tmp_path, "f1")
        os.kill(child.pid, signal.SIGKILL)  # kill -9: no cleanup at all
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
        if child.stdin is not None:
            child.stdin.close()
    # The lock went with the process, and everything it recorded is there.
    with ProgressStore.open(tmp_path, "f1") as store:
        state = store.get(A)
        assert state is not None
        assert state.status is POStatus.COMPLETED
        assert state.attachment_names == ("a.pdf",)
        assert store.todo() == [B]


def test_corrupt_database_is_reported_and_fresh_recovers(tmp_path: Path) -> None:
    db = state_dir(tmp_path) / "progress.sqlite"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ProgressCorruptError, match="--fresh") as info:
        ProgressStore.open(tmp_path, "f1")
    assert "\n" not in str(info.value)
    with ProgressStore.open(tmp_path, "f1", fresh=True) as store:  # the lock was released by the failure
        store.register([A])
        assert store.todo() == [A]


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    store = ProgressStore.open(tmp_path, "f1")
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.todo()


def test_iso_utc() -> None:
    moment = datetime(2025, 3, 1, 10, 30, 5, tzinfo=UTC)
    assert iso_utc(moment) == "2025-03-01T10:30:05Z"
    assert iso_utc(moment.astimezone(datetime.now().astimezone().tzinfo)) == "2025-03-01T10:30:05Z"
    assert iso_utc(None) == ""


# --- upgrades from older schemas ---------------------------------------------------------------------------


def test_a_version_1_store_resumes_and_its_no_attachments_are_visited_again(tmp_path: Path) -> None:
    done, empty, failed = _po("PO15262984"), _po("PO15262986"), _po("PO15262987")
    db = write_v1_output(
        tmp_path,
        [
            V1Row(done.digits, "COMPLETED", supplier="Acme GmbH", names=["quote.pdf"]),
            V1Row(empty.digits, "NO_ATTACHMENTS", attempts=1, supplier="Initech"),
            V1Row(failed.digits, "FAILED", attempts=3, error="HTTP 500"),
        ],
    )
    with ProgressStore.open(tmp_path, "old") as store:
        assert store.run_info.resumed
        assert store.todo() == [empty, failed]  # the COMPLETED one stays done
        revisited = store.get(empty)
        assert revisited is not None
        assert revisited.status is POStatus.PENDING
        assert revisited.attempts == 1  # kept across the upgrade
        assert revisited.error_message == REVISITED_MESSAGE
        kept = store.get(done)
        assert (
            kept is not None and kept.status is POStatus.COMPLETED and kept.attachment_names == ("quote.pdf",)
        )
        store.mark_started(empty, "B")
        store.record(empty, POOutcome(POStatus.NO_ATTACHMENTS, error_message="settled: none"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert conn.execute("SELECT value FROM meta WHERE key = 'migrated_from_1'").fetchone() == ("1",)
    # The migration ran once: a NO_ATTACHMENTS recorded by this version stays final.
    with ProgressStore.open(tmp_path, "old") as store:
        assert store.todo() == [failed]


def test_a_store_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    with ProgressStore.open(tmp_path, "f1"):
        pass
    db = state_dir(tmp_path) / "progress.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ProgressCorruptError, match="schema version 99"):
        ProgressStore.open(tmp_path, "f1")
