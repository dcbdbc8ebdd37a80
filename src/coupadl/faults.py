"""Faults of the machine: which OS errors mean that the disk or the output folder failed (not a PO, not a
window), and the cheap checks that notice it before anything is half-written.

A full disk or an output folder that disappeared makes every later task fail the same way, so these end the
whole run with `MachineFaultError` (exit code 4) instead of failing POs one by one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from coupadl.errors import MachineFaultError

__all__ = [
    "FolderIdentity",
    "check_folder",
    "disk_full",
    "folder_gone",
    "machine_fault",
    "raise_machine_fault",
]

_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_BROKEN = frozenset({errno.EROFS, errno.EIO})
_RESUME = "then rerun the same command: it resumes where it stopped"


class FolderIdentity:
    """Which folder a path named when the run started (device and inode): a folder deleted and made again
    under the same name is another folder, and whatever the run kept in the first one is gone.

    Where the OS allows it, the folder is held open while watched, so its inode cannot be handed to a new
    folder of the same name (file systems reuse inode numbers at once). `close()` lets it go.
    """

    def __init__(self, path: Path, device: int, inode: int, fd: int | None = None) -> None:
        self.path = path
        self.device = device
        self.inode = inode
        self._fd = fd

    @classmethod
    def of(cls, path: Path) -> FolderIdentity:
        """The identity of the existing folder `path` (raises `MachineFaultError` when it is not there)."""
        fd: int | None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            fd = None  # Windows opens no folder this way; a folder in use there cannot be deleted anyway
        try:
            info = os.fstat(fd) if fd is not None else path.stat()
        except OSError:
            if fd is not None:
                os.close(fd)
            raise folder_gone(path) from None
        return cls(path, info.st_dev, info.st_ino, fd)

    def same(self) -> bool:
        """True while `path` still names this very folder."""
        try:
            info = self.path.stat()
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == (self.device, self.inode)

    def close(self) -> None:
        """Stop holding the folder open. Safe to call twice."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def disk_full(folder: Path, free: int | None = None) -> MachineFaultError:
    """The error for a full disk under `folder`."""
    free = _free(folder) if free is None else free
    left = f" ({_mb(free)} free)" if free is not None else ""
    return MachineFaultError(
        f"the disk holding {folder} is full{left}",
        folder=str(folder),
        hint=f"free some space on it, {_RESUME}",
    )


def folder_gone(folder: Path) -> MachineFaultError:
    """The error for an output folder that disappeared (deleted, drive unplugged, share disconnected)."""
    return MachineFaultError(
        f"the output folder {folder} is gone",
        folder=str(folder),
        hint=f"reconnect its drive or share (files downloaded so far are in it), {_RESUME}",
    )


def machine_fault(exc: OSError, folder: Path) -> MachineFaultError | None:
    """The machine fault behind `exc`, raised while writing under `folder`; None when `exc` is not one
    (a bad name, a file in the way: the task's own problem)."""
    if exc.errno in _FULL:
        return disk_full(folder, _free(folder))
    if not folder.is_dir():
        return folder_gone(folder)
    if exc.errno in _BROKEN:
        return MachineFaultError(
            f"the disk holding {folder} failed ({exc.strerror or exc})",
            folder=str(folder),
            hint=f"check the drive, {_RESUME}",
        )
    return None


def raise_machine_fault(exc: OSError, folder: Path) -> None:
    """Raise the machine fault behind `exc` (from `exc`), or do nothing when it is not one."""
    fault = machine_fault(exc, folder)
    if fault is not None:
        raise fault from exc


def check_folder(folder: Path | FolderIdentity, *, min_free_bytes: int = 0) -> None:
    """Raise `MachineFaultError` when the folder is gone (or replaced) or its disk has less than
    `min_free_bytes` free. One `stat` and one `statvfs`: cheap enough to call after every task."""
    if isinstance(folder, FolderIdentity):
        path, replaced = folder.path, not folder.same()
    else:
        path, replaced = folder, False
    if replaced or not path.is_dir():
        raise folder_gone(path)
    free = _free(path)
    if free is not None and free < min_free_bytes:
        raise disk_full(path, free)


def _free(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None
