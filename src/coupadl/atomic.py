"""Replace a file atomically: write a temporary file beside it, flush and fsync it, then move it into place.

A crash leaves the old file or the new one, never half of one, and never the temporary file under the final
name. Callers choose the temporary name's prefix (so copies and sweeps can recognise it), the final mode, and
how the file is put in place (a plain `os.replace`, or a placement that copes with a file another program
holds open).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_write"]


def _replace(temp: Path, path: Path) -> Path:
    temp.replace(path)
    return path


def atomic_write(
    path: Path,
    write: Callable[[IO[bytes]], object],
    *,
    mode: int,
    prefix: str | None = None,
    place: Callable[[Path, Path], Path] = _replace,
) -> Path:
    """Write `path` through `write(stream)` atomically and durably.

    Args:
        path: The file to replace (its folder must exist).
        write: Writes the whole content to the binary stream it is given.
        mode: Permission bits of the new file (a temporary file is made owner-only).
        prefix: The temporary file's name prefix (default: `.<name>.`).
        place: Moves the finished temporary file to `path` and returns where it went.

    Returns:
        Where the file now is (what `place` returned).
    """
    fd, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=prefix if prefix is not None else f".{path.name}.", suffix=".tmp"
    )
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        temp.chmod(mode)
        return place(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
