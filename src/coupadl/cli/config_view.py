"""`coupadl config`: the settings in effect and where each came from; `save_base_url` for `login`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coupadl.config_file import save_setting, user_config_file
from coupadl.settings import LoadedConfig, Settings, Source, load_config

__all__ = ["config_lines", "files_lines", "load_for_display", "save_base_url", "should_offer_to_save"]


def _shown(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_lines(loaded: LoadedConfig) -> list[str]:
    """One line per setting: `key = value  (source)`, the source being the flag, the variable, the file key
    or `default`. Plain lines (no table) so that long paths never wrap and scripts can read them."""
    values = loaded.settings.model_dump()
    width = max(len(k) for k in Settings.model_fields)
    shown = {k: _shown(values[k]) for k in Settings.model_fields}
    value_width = min(40, max(len(v) for v in shown.values()))
    return [
        f"{key:<{width}} = {shown[key]:<{value_width}}  ({loaded.provenance.origin(key).name})"
        for key in Settings.model_fields
    ]


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
