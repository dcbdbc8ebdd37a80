"""Settings a window needs, written into a profile's own `Preferences` file before its browser starts.

ChromeDriver's `prefs` option writes into the profile's `Preferences` for good (facts/chromium-profiles.md),
so coupadl never uses it. Instead:

- Clones get `CLONE_PREFERENCES` for good: they are coupadl's copies (written once into the run's snapshot,
  which every clone copies byte for byte).
- The base (window A) gets `BASE_WINDOW_PREFERENCES` only while its window runs. `override_preferences`
  first writes a journal of every touched key's prior value (or that it was absent), then the values;
  `restore_preferences` puts every key back after the window closed: a prior value comes back, an absent key
  is removed again, with any parent object that was created for it and is still empty. After a crash the
  journal stays, and `repair_preferences` does the same at the next start of coupadl.

Keys are Chromium's dotted pref names; `Preferences` stores them as nested JSON objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coupadl.atomic import atomic_write
from coupadl.errors import ProfileOperationError
from coupadl.log import get_logger
from coupadl.profiles.markers import MARKER_PREFIX

__all__ = [
    "BASE_WINDOW_PREFERENCES",
    "CLONE_PREFERENCES",
    "JOURNAL_NAME",
    "apply_preferences",
    "journal_path",
    "override_preferences",
    "preferences_path",
    "read_preferences",
    "repair_preferences",
    "restore_preferences",
]

log = get_logger(__name__)

CLONE_PREFERENCES: Mapping[str, Any] = {
    # Start on about:blank. Clones are not started with `--restore-last-session`: with no session tabs to
    # restore (`Sessions/` is not copied) Chromium would open its new-tab page, which stalls the browser
    # where the network is closed; their session cookies are persistent in the snapshot instead
    # (profiles/session_cookies.py).
    "session.restore_on_startup": 4,
    "session.startup_urls": ["about:blank"],
    "download.prompt_for_download": False,
    "download.directory_upgrade": True,
    # Several attachments from one page without the "download multiple files?" question.
    "profile.default_content_setting_values.automatic_downloads": 1,
    # A PDF link downloads the file instead of opening it in the built-in viewer.
    "plugins.always_open_pdf_externally": True,
    # No password-manager bubbles and no Safe Browsing look-ups from throw-away copies.
    "credentials_enable_service": False,
    "profile.password_manager_enabled": False,
    "safebrowsing.enabled": False,
}
"""What every clone's `Preferences` holds before its browser starts."""

BASE_WINDOW_PREFERENCES: Mapping[str, Any] = {
    "profile.default_content_setting_values.automatic_downloads": 1,
    "plugins.always_open_pdf_externally": True,
}
"""What window A needs on the base and no command-line switch gives; put back when the window closes.

Session cookies need no key here: `--restore-last-session` (a switch, see browser/launcher.py) loads them.
"""

JOURNAL_NAME = f"{MARKER_PREFIX}preferences-journal.json"
"""The journal's file name, in the user-data-dir (copies skip `MARKER_PREFIX` names)."""

_JOURNAL_VERSION = 1


def preferences_path(user_data_dir: Path, profile_name: str) -> Path:
    """`<user_data_dir>/<profile_name>/Preferences`."""
    return user_data_dir / profile_name / "Preferences"


def journal_path(user_data_dir: Path) -> Path:
    """Where the journal of a pending base override lives."""
    return user_data_dir / JOURNAL_NAME


def read_preferences(path: Path) -> dict[str, Any]:
    """The parsed `Preferences` file; `{}` when it does not exist.

    Raises:
        ProfileOperationError: The file is not a JSON object (a corrupt profile: nothing is written).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ProfileOperationError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProfileOperationError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileOperationError(f"{path} does not hold a JSON object")
    return data


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Replace `path` atomically (a crash leaves the old or the new file, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    # The temporary name carries the marker prefix, so a copy of the profile never takes it along.
    atomic_write(path, lambda stream: stream.write(payload), mode=mode, prefix=f"{MARKER_PREFIX}tmp-")


def _lookup(data: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _set(data: dict[str, Any], key: str, value: Any) -> list[str]:
    """Set `key`, creating parent objects; returns the dotted names of the parents it created."""
    parts = key.split(".")
    node = data
    created: list[str] = []
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            if part in node:
                raise ProfileOperationError(f"preference {'.'.join(parts[: depth + 1])} is not an object")
            child = node[part] = {}
            created.append(".".join(parts[: depth + 1]))
        node = child
    node[parts[-1]] = value
    return created


def _delete(data: dict[str, Any], key: str) -> None:
    parts = key.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def apply_preferences(user_data_dir: Path, profile_name: str, values: Mapping[str, Any]) -> None:
    """Write `values` into the profile's `Preferences` for good (coupadl's own copies only, never the base).

    Raises:
        ProfileOperationError: `Preferences` is corrupt or a parent of a key is not an object.
    """
    path = preferences_path(user_data_dir, profile_name)
    data = read_preferences(path)
    for key, value in values.items():
        _set(data, key, value)
    _write_json(path, data)


def override_preferences(user_data_dir: Path, profile_name: str, values: Mapping[str, Any]) -> Path:
    """Write `values` into the base's `Preferences` until `restore_preferences`; returns the journal.

    The journal (each key's prior value or its absence, and parents created) reaches the disk before the
    `Preferences` file changes. A journal left by an earlier crash is repaired first, so the prior values
    recorded are always the operator's own. Call it only while no browser runs on `user_data_dir`.

    Raises:
        ProfileOperationError: `Preferences` or an old journal is corrupt, or a file cannot be written.
    """
    repair_preferences(user_data_dir)
    path = preferences_path(user_data_dir, profile_name)
    data = read_preferences(path)
    keys: dict[str, dict[str, Any]] = {}
    created: list[str] = []
    for key, value in values.items():
        present, prior = _lookup(data, key)
        keys[key] = {"present": True, "value": prior} if present else {"present": False}
        created += _set(data, key, value)
    journal = journal_path(user_data_dir)
    try:
        _write_json(
            journal,
            {"version": _JOURNAL_VERSION, "profile_name": profile_name, "keys": keys, "created": created},
        )
        _write_json(path, data)
    except OSError as exc:
        raise ProfileOperationError(f"cannot write the preferences of {user_data_dir}: {exc}") from exc
    log.info("base_preferences_overridden", path=str(user_data_dir), keys=sorted(keys))
    return journal


def _read_journal(journal: Path) -> tuple[str, dict[str, Any], list[str]]:
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProfileOperationError(f"cannot read the preferences journal {journal}: {exc}") from exc
    if (
        not isinstance(record, dict)
        or record.get("version") != _JOURNAL_VERSION
        or not isinstance(record.get("profile_name"), str)
        or not isinstance(record.get("keys"), dict)
        or not isinstance(record.get("created"), list)
    ):
        raise ProfileOperationError(f"the preferences journal {journal} is not one coupadl wrote")
    return record["profile_name"], record["keys"], [str(c) for c in record["created"]]


def restore_preferences(user_data_dir: Path) -> list[str]:
    """Put back every key the journal names, then remove the journal. Returns the keys restored.

    Call it only once no browser runs on `user_data_dir` (a running browser rewrites the file on exit).
    No journal: nothing to do, returns [].

    Raises:
        ProfileOperationError: The journal or `Preferences` is unreadable (the journal is kept).
    """
    journal = journal_path(user_data_dir)
    if not journal.is_file():
        return []
    profile_name, keys, created = _read_journal(journal)
    path = preferences_path(user_data_dir, profile_name)
    data = read_preferences(path)
    for key, entry in keys.items():
        if isinstance(entry, dict) and entry.get("present"):
            _set(data, key, entry.get("value"))
        else:
            _delete(data, key)
    # Parents coupadl created, deepest first, go again if nothing else was put in them meanwhile.
    for parent in sorted(created, key=lambda name: name.count("."), reverse=True):
        present, node = _lookup(data, parent)
        if present and node == {}:
            _delete(data, parent)
    try:
        _write_json(path, data)
        journal.unlink()
    except OSError as exc:
        raise ProfileOperationError(f"cannot restore the preferences of {user_data_dir}: {exc}") from exc
    log.info("base_preferences_restored", path=str(user_data_dir), keys=sorted(keys))
    return sorted(keys)


def repair_preferences(user_data_dir: Path) -> list[str]:
    """At start: undo an override a crashed run left on the base (see `restore_preferences`)."""
    restored = restore_preferences(user_data_dir)
    if restored:
        log.warning("base_preferences_repaired", path=str(user_data_dir), keys=restored)
    return restored
