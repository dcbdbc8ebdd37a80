"""`coupadl config`: the settings in effect and where each came from; `save_base_url` for `login`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.table import Table

from coupadl.config_file import save_setting, user_config_file
from coupadl.settings import LoadedConfig, Settings, Source, load_config

__all__ = ["config_table", "save_base_url", "should_offer_to_save"]


def _shown(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_table(loaded: LoadedConfig) -> Table:
    """One row per setting: key, value in effect, and its source (flag, variable, file key or default)."""
    table = Table(title="settings in effect", title_justify="left")
    for column in ("key", "value", "from"):
        table.add_column(column)
    values = loaded.settings.model_dump()
    for key in Settings.model_fields:
        origin = loaded.provenance.origin(key)
        table.add_row(key, _shown(values[key]), origin.name)
    return table


def files_lines(loaded: LoadedConfig, user_file: Path | None = None) -> list[str]:
    """Which config files were read, and where the per-user file is (even when there is none yet)."""
    user_file = user_config_file() if user_file is None else user_file
    read = ", ".join(str(p) for p in loaded.provenance.files) or "none"
    state = "exists" if user_file.is_file() else "absent"
    return [f"config files read: {read}", f"per-user config file: {user_file} ({state})"]


def load_for_display(flags: Mapping[str, Any]) -> LoadedConfig:
    """`load_config` for `coupadl config` (same rules as every command)."""
    return load_config(flags)


def should_offer_to_save(settings: Settings) -> bool:
    """True when the base URL was typed (flag or variable), so remembering it in the per-user file helps."""
    origin = settings.provenance.origin("base_url")
    return settings.base_url is not None and origin.source in (Source.FLAG, Source.ENVIRONMENT)


def save_base_url(base_url: str, path: Path | None = None) -> Path:
    """Write `base_url` into the per-user config file (other keys and comments kept); its path."""
    path = user_config_file() if path is None else path
    save_setting(path, "base_url", base_url)
    return path
