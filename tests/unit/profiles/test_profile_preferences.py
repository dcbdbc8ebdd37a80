"""The Preferences writer: clone settings for good; base overrides journaled, restored, repaired."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coupadl.errors import ProfileOperationError
from coupadl.profiles.copying import plan_clone, plan_snapshot
from coupadl.profiles.preferences import (
    BASE_WINDOW_PREFERENCES,
    CLONE_PREFERENCES,
    apply_preferences,
    journal_path,
    override_preferences,
    preferences_path,
    read_preferences,
    repair_preferences,
    restore_preferences,
)
from coupadl.profiles.snapshot import Snapshot, copy_clone, take_snapshot

OPERATOR: dict[str, Any] = {
    "profile": {"name": "Person 1", "exit_type": "Normal"},
    "plugins": {"always_open_pdf_externally": False},
    "session": {"restore_on_startup": 5},
    "download": {"prompt_for_download": True, "default_directory": "/home/op/Downloads"},
}


def _base(root: Path, prefs: dict[str, Any] | None = OPERATOR) -> Path:
    udd = root / "base"
    (udd / "Default").mkdir(parents=True)
    (udd / "Local State").write_text('{"browser": {"enabled_labs_experiments": []}}', encoding="utf-8")
    if prefs is not None:
        preferences_path(udd, "Default").write_text(json.dumps(prefs), encoding="utf-8")
    return udd


def _prefs(udd: Path) -> dict[str, Any]:
    return read_preferences(preferences_path(udd, "Default"))


def _browser_writes(udd: Path, change: dict[str, Any]) -> None:
    """What the browser does while it runs: rewrites the file with its own changes merged in."""
    data = _prefs(udd)
    for top, value in change.items():
        if isinstance(value, dict):
            data.setdefault(top, {}).update(value)
        else:
            data[top] = value
    preferences_path(udd, "Default").write_text(json.dumps(data), encoding="utf-8")


def test_override_then_restore_gives_back_prior_values_and_absent_stays_absent(tmp_path: Path) -> None:
    udd = _base(tmp_path)
    override_preferences(udd, "Default", BASE_WINDOW_PREFERENCES)
    during = _prefs(udd)
    assert during["plugins"]["always_open_pdf_externally"] is True
    assert during["profile"]["default_content_setting_values"]["automatic_downloads"] == 1
    assert journal_path(udd).is_file()
    _browser_writes(udd, {"profile": {"exit_type": "Normal", "last_engagement_time": "1"}})

    restored = restore_preferences(udd)

    assert restored == sorted(BASE_WINDOW_PREFERENCES)
    after = _prefs(udd)
    assert after["plugins"] == {"always_open_pdf_externally": False}  # prior value back
    assert "default_content_setting_values" not in after["profile"]  # absent (and its created parent) again
    assert after["profile"]["last_engagement_time"] == "1"  # the browser's own changes are kept
    assert after["session"] == OPERATOR["session"] and after["download"] == OPERATOR["download"]
    assert not journal_path(udd).exists()


def test_created_parents_are_removed_only_when_still_empty(tmp_path: Path) -> None:
    udd = _base(tmp_path, {"profile": {"name": "x"}})
    override_preferences(udd, "Default", {"profile.content_settings.a.b": 1})
    _browser_writes(udd, {"profile": {"content_settings": {"a": {"b": 1}, "other": 2}}})
    restore_preferences(udd)
    assert _prefs(udd) == {"profile": {"name": "x", "content_settings": {"other": 2}}}


def test_a_journal_left_by_a_crash_is_repaired_at_the_next_start(tmp_path: Path) -> None:
    udd = _base(tmp_path)
    before = _prefs(udd)
    override_preferences(udd, "Default", BASE_WINDOW_PREFERENCES)
    # The run is killed here: no restore. The browser had written the overrides back on its own.
    _browser_writes(udd, {"profile": {"exit_type": "Crashed"}})

    assert repair_preferences(udd) == sorted(BASE_WINDOW_PREFERENCES)

    after = _prefs(udd)
    after["profile"]["exit_type"] = "Normal"
    assert after == before
    assert repair_preferences(udd) == []  # nothing left to do


def test_a_second_override_after_a_crash_keeps_the_operators_values(tmp_path: Path) -> None:
    """The crash's journal is repaired before a new one is written, so the operator's values are journaled."""
    udd = _base(tmp_path)
    before = _prefs(udd)
    override_preferences(udd, "Default", BASE_WINDOW_PREFERENCES)
    override_preferences(udd, "Default", BASE_WINDOW_PREFERENCES)  # crashed in between
    restore_preferences(udd)
    assert _prefs(udd) == before


def test_override_on_a_profile_without_preferences_leaves_none_of_its_keys(tmp_path: Path) -> None:
    udd = _base(tmp_path, prefs=None)
    override_preferences(udd, "Default", BASE_WINDOW_PREFERENCES)
    _browser_writes(udd, {"profile": {"exit_type": "Normal"}})
    restore_preferences(udd)
    assert _prefs(udd) == {"profile": {"exit_type": "Normal"}}


def test_restore_without_journal_changes_nothing(tmp_path: Path) -> None:
    udd = _base(tmp_path)
    raw = preferences_path(udd, "Default").read_bytes()
    assert restore_preferences(udd) == []
    assert preferences_path(udd, "Default").read_bytes() == raw


def test_corrupt_preferences_are_refused_and_not_written(tmp_path: Path) -> None:
    udd = _base(tmp_path)
    preferences_path(udd, "Default").write_text("{not json", encoding="utf-8")
    with pytest.raises(ProfileOperationError, match="not valid JSON"):
        override_preferences(udd, "Default", BASE_WINDOW_PREFERENCES)
    assert preferences_path(udd, "Default").read_text(encoding="utf-8") == "{not json"
    assert not journal_path(udd).exists()


def test_a_foreign_journal_is_refused_and_kept(tmp_path: Path) -> None:
    udd = _base(tmp_path)
    journal_path(udd).write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(ProfileOperationError, match="not one coupadl wrote"):
        repair_preferences(udd)
    assert journal_path(udd).is_file()


def test_apply_writes_clone_settings_for_good(tmp_path: Path) -> None:
    udd = _base(tmp_path)
    apply_preferences(udd, "Default", CLONE_PREFERENCES)
    data = _prefs(udd)
    assert data["session"] == {"restore_on_startup": 4, "startup_urls": ["about:blank"]}
    assert data["plugins"]["always_open_pdf_externally"] is True
    assert data["download"]["prompt_for_download"] is False
    assert data["download"]["default_directory"] == "/home/op/Downloads"  # the rest is kept
    assert not journal_path(udd).exists()


def test_snapshot_and_clones_carry_clone_settings_and_no_session_tabs(tmp_path: Path) -> None:
    udd = _base(tmp_path)
    profile = udd / "Default"
    (profile / "Sessions").mkdir()
    (profile / "Sessions" / "Session_13400000000000000").write_bytes(b"SNSS")
    for legacy in ("Current Session", "Current Tabs", "Last Session", "Last Tabs"):
        (profile / legacy).write_bytes(b"SNSS")
    (profile / "History").write_bytes(b"kept")
    base_prefs = preferences_path(udd, "Default").read_bytes()

    planned = {rel for rel, _ in plan_snapshot(udd, "Default").files}
    assert "Default/History" in planned
    assert not any(
        rel.startswith(("Default/Sessions", "Default/Current ", "Default/Last ")) for rel in planned
    )

    snapshot = take_snapshot(udd, "Default", tmp_path / "snap")
    assert preferences_path(udd, "Default").read_bytes() == base_prefs  # the base is only read
    assert _prefs(snapshot.path)["session"]["startup_urls"] == ["about:blank"]
    assert not (snapshot.path / "Default" / "Sessions").exists()

    clone = tmp_path / "clone"
    clone.mkdir()
    sums = copy_clone(Snapshot.load(snapshot.path), clone)  # VM-003: the clone matches the snapshot
    assert sums["Default/Preferences"] == snapshot.checksums["Default/Preferences"]
    assert _prefs(clone)["plugins"]["always_open_pdf_externally"] is True
    assert not (clone / "Default" / "Sessions").exists()
    assert {rel for rel, _ in plan_clone(clone).files} >= {"Default/Preferences", "Default/History"}
