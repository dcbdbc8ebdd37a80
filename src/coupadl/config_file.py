"""The TOML config files: where the per-user one lives, reading one, and remembering a value in it.

A file holds the settings' keys (snake_case) at the top level, or under a `[coupadl]` table.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

from coupadl.atomic import atomic_write
from coupadl.errors import ConfigError

__all__ = ["read_config_file", "save_setting", "user_config_file"]

_TABLE = re.compile(r"^\s*\[")


def user_config_file() -> Path:
    """The per-user config file: `config.toml` in coupadl's folder of the OS's user config dir
    (`%LOCALAPPDATA%\\coupadl\\coupadl` on Windows, `~/Library/Application Support/coupadl` on macOS,
    `~/.config/coupadl` on Linux). It may not exist."""
    return Path(platformdirs.user_config_dir("coupadl")) / "config.toml"


def read_config_file(path: Path) -> dict[str, Any]:
    """The keys of the TOML file `path` (its `[coupadl]` table if it has one), or a one-line `ConfigError`."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    table = data.get("coupadl")
    return dict(table) if isinstance(table, dict) else data


def _toml_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def save_setting(path: Path, key: str, value: str | int | float | bool) -> None:
    """Set `key = value` in the TOML file `path`, keeping its other lines (and comments) as they are.

    The file is replaced atomically and parsed again before it replaces the old one.

    Raises:
        ConfigError: the file exists but is not valid TOML, or cannot be written.
    """
    lines: list[str] = []
    if path.exists():
        read_config_file(path)  # refuse to edit a file that does not parse
        lines = path.read_text(encoding="utf-8").splitlines()
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    new_line = f"{key} = {_toml_value(value)}"
    in_table = ""
    placed = False
    for index, line in enumerate(lines):
        if _TABLE.match(line):
            in_table = line.strip()
        elif assignment.match(line) and in_table in ("", "[coupadl]"):
            lines[index] = new_line
            placed = True
            break
    if not placed:
        header = next((i for i, line in enumerate(lines) if line.strip() == "[coupadl]"), None)
        if header is not None:
            lines.insert(header + 1, new_line)
        else:
            first_table = next((i for i, line in enumerate(lines) if _TABLE.match(line)), len(lines))
            lines.insert(first_table, new_line)
    text = "\n".join(lines) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - the value is serialised by us
        raise ConfigError(f"cannot write {key} to {path}: {exc}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = text.encode("utf-8")
        atomic_write(path, lambda stream: stream.write(payload), mode=0o600, prefix=".config-")
    except OSError as exc:
        raise ConfigError(f"cannot write the config file {path}: {exc.strerror or exc}") from None
