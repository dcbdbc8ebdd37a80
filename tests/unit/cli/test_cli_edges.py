"""Small pieces of the command's edge: the output-folder check and the login wait's wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from coupadl.cli.login import format_wait
from coupadl.cli.runner import check_output_folder
from coupadl.errors import ConfigError


def test_an_output_folder_that_does_not_exist_yet_is_fine_and_not_made(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    check_output_folder(out)
    assert not (tmp_path / "a").exists()


def test_an_output_path_that_is_a_file_or_under_one_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "results.txt"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file"):
        check_output_folder(file)
    with pytest.raises(ConfigError, match=f"is under the file {file}"):
        check_output_folder(file / "sub" / "dir")


@pytest.mark.parametrize(
    ("seconds", "shown"), [(900, "15:00"), (17, "0:17"), (0.2, "0:01"), (-3, "0:00"), (3725, "1:02:05")]
)
def test_wait_is_shown_as_minutes_and_seconds(seconds: float, shown: str) -> None:
    assert format_wait(seconds) == shown
