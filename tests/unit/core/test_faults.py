"""Faults of the machine: which OS errors stop a run, the folder check, and the error itself."""

from __future__ import annotations

import errno
import pickle
import shutil
from pathlib import Path

import pytest

from coupadl.errors import CoupadlError, MachineFaultError, SetupError
from coupadl.faults import FolderIdentity, check_folder, machine_fault


def test_disk_full_names_the_folder_and_what_to_do(tmp_path: Path) -> None:
    fault = machine_fault(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert fault is not None
    text = str(fault)
    assert f"the disk holding {tmp_path} is full" in text
    assert "free some space" in text and "rerun the same command" in text
    assert "\n" not in text
    assert fault.folder == str(tmp_path)


def test_quota_and_read_only_disks_are_faults_of_the_machine(tmp_path: Path) -> None:
    assert machine_fault(OSError(errno.EDQUOT, "Disk quota exceeded"), tmp_path) is not None
    read_only = machine_fault(OSError(errno.EROFS, "Read-only file system"), tmp_path)
    assert read_only is not None and "Read-only file system" in str(read_only)


def test_any_error_under_a_vanished_folder_is_the_folder_gone(tmp_path: Path) -> None:
    gone = tmp_path / "out"
    fault = machine_fault(FileNotFoundError(errno.ENOENT, "No such file or directory"), gone)
    assert fault is not None and f"the output folder {gone} is gone" in str(fault)


def test_a_task_s_own_os_error_is_not_a_fault_of_the_machine(tmp_path: Path) -> None:
    assert machine_fault(FileExistsError(errno.EEXIST, "File exists"), tmp_path) is None
    assert machine_fault(OSError(errno.ENAMETOOLONG, "File name too long"), tmp_path) is None


def test_check_folder_sees_a_folder_removed_or_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    identity = FolderIdentity.of(out)
    try:
        check_folder(identity)
        shutil.rmtree(out)
        with pytest.raises(MachineFaultError, match="is gone"):
            check_folder(identity)
        out.mkdir()  # made again by someone else: what the run kept in the first one is not there
        with pytest.raises(MachineFaultError, match="is gone"):
            check_folder(identity)
        check_folder(out)  # by path alone it exists
    finally:
        identity.close()


def test_check_folder_refuses_less_free_space_than_asked(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    check_folder(tmp_path, min_free_bytes=1)
    with pytest.raises(MachineFaultError, match="is full"):
        check_folder(tmp_path, min_free_bytes=free + 10**12)


def test_machine_fault_is_its_own_group_and_survives_pickling() -> None:
    fault = MachineFaultError("the disk holding /x is full", folder="/x", hint="free some space")
    assert isinstance(fault, CoupadlError) and not isinstance(fault, SetupError)
    copy = pickle.loads(pickle.dumps(fault))  # noqa: S301 - our own bytes
    assert (str(copy), copy.folder, copy.hint) == (str(fault), "/x", "free some space")
