"""The progress store on a disk that fills up: a typed fault, never a damaged or unusable database."""

from __future__ import annotations

import sqlite3

import pytest

from coupadl.batch.progress import POOutcome, ProgressStore, state_dir
from coupadl.coupa.po import PONumber, POStatus
from coupadl.errors import MachineFaultError
from support.tmpfs import fill, remount, small_disk


def _pos(count: int) -> list[PONumber]:
    return [
        PONumber(raw=f"PO{300000 + i}", digits=str(300000 + i), display=f"PO{300000 + i}")
        for i in range(count)
    ]


def _outcome(i: int) -> POOutcome:
    # Long texts make every commit write pages, so the disk fills quickly.
    return POOutcome(POStatus.COMPLETED, supplier="S" * 3000, error_message=f"e{i}" + "x" * 3000, worker="A")


def test_a_full_disk_is_a_machine_fault_and_the_store_stays_usable() -> None:
    with small_disk("1m") as root:
        out = root / "out"
        pos = _pos(400)
        with ProgressStore.open(out, "fp") as store:
            store.register(pos)
            fill(root, leave=64 * 1024)
            recorded: list[str] = []
            with pytest.raises(MachineFaultError, match=f"the disk holding {out} is full") as caught:
                for i, po in enumerate(pos):
                    store.mark_started(po, "A")
                    store.record(po, _outcome(i))
                    recorded.append(po.digits)
            assert "rerun the same command" in str(caught.value)
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            assert recorded, "some POs were recorded before the disk filled"
            # Reading still works, and the store holds exactly what was committed.
            done = {d for d, p in store.all().items() if p.status is POStatus.COMPLETED}
            assert done == set(recorded)
        (root / "filler.bin").unlink()
        remount(root, "8m")
        db = state_dir(out) / "progress.sqlite"
        check = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            check.close()
        with ProgressStore.open(out, "fp") as store:
            assert {d for d, p in store.all().items() if p.status is POStatus.COMPLETED} == set(recorded)
            todo = store.todo(pos)
            assert len(todo) == len(pos) - len(recorded)
            store.mark_started(todo[0], "B")  # the in-flight PO of the stopped run was reclaimed
            store.record(todo[0], POOutcome(POStatus.NO_ATTACHMENTS))


def test_opening_on_a_full_disk_is_a_machine_fault_not_a_corrupt_database() -> None:
    with small_disk("256k") as root:
        out = root / "out"
        fill(root)
        with pytest.raises(MachineFaultError, match="is full"):
            ProgressStore.open(out, "fp")
        # The lock was released: once there is room, the same folder opens.
        (root / "filler.bin").unlink()
        with ProgressStore.open(out, "fp") as store:
            store.register(_pos(1))
