"""A small tmpfs for tests of a disk that fills up: mounted only when the tests run as root and the kernel
allows it (otherwise the test is skipped), always unmounted after."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["fill", "remount", "small_disk"]


@contextlib.contextmanager
def small_disk(size: str, prefix: str = "cdl-disk-") -> Iterator[Path]:
    """A folder under /tmp backed by a tmpfs of `size` (e.g. `"4m"`); skips the test when not possible."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        root.rmdir()
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
        with contextlib.suppress(OSError):
            root.rmdir()


def remount(root: Path, size: str) -> None:
    """Give the tmpfs at `root` another size (its files stay)."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(root)], check=True)


def fill(root: Path, leave: int = 0) -> Path:
    """Write one file that takes all free space under `root` but `leave` bytes; returns it."""
    path = root / "filler.bin"
    free = shutil.disk_usage(root).free - leave
    with path.open("wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(0, free))
    return path
