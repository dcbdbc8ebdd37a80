"""`atomic_write`: the whole new file or the old one, never a temporary file left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from coupadl.atomic import atomic_write


def test_replaces_the_file_with_the_mode_asked(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    assert atomic_write(target, lambda s: s.write(b"new"), mode=0o640) == target
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_bytes(b"old")

    def broken(stream: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, broken, mode=0o600, prefix=".coupadl-tmp-")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_the_placing_rule_decides_where_it_goes(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    beside = tmp_path / "results (1).csv"

    def place(temp: Path, _path: Path) -> Path:
        temp.replace(beside)
        return beside

    assert atomic_write(target, lambda s: s.write(b"x"), mode=0o644, place=place) == beside
    assert beside.read_bytes() == b"x" and not target.exists()
