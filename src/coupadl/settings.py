"""Run settings: built once at the edge (the CLI) and passed down, never read from the environment deeper in.

Precedence, highest first: command-line flag > `COUPADL_*` environment variable > the TOML file given with
`--config` (or `COUPADL_CONFIG`) > the per-user config file (`user_config_file()`) > default.
`load_config` returns the settings together with their `Provenance`: where every value came from, so that
errors name the real source (the flag, the variable or the file key) and `coupadl config` can show it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from coupadl.choices import (
    DEFAULT_LOADING_TEXTS,
    DEFAULT_PAGE_ERROR_TEXTS,
    MAX_GRID_WORKERS,
    MAX_WORKERS,
    MIN_WORKERS,
    BrowserKind,
    ProfilePolicy,
)
from coupadl.config_file import read_config_file, user_config_file
from coupadl.errors import ConfigError

__all__ = [
    "DEFAULT_LOADING_TEXTS",
    "DEFAULT_PAGE_ERROR_TEXTS",
    "MAX_GRID_WORKERS",
    "MAX_WORKERS",
    "MIN_WORKERS",
    "BrowserKind",
    "Origin",
    "ProfilePolicy",
    "Provenance",
    "Settings",
    "Source",
    "load_config",
    "load_settings",
    "user_config_file",
]


class Settings(BaseSettings):
    """Everything a run needs, validated. Field names are the config-file keys."""

    model_config = SettingsConfigDict(env_prefix="COUPADL_", extra="forbid", frozen=True)
    _provenance: Provenance | None = PrivateAttr(default=None)  # set by `load_config`

    base_url: str | None = None
    out: Path = Path("coupadl-output")
    workers: int = Field(default=3, ge=MIN_WORKERS, le=MAX_GRID_WORKERS)  # local: le MAX_WORKERS (below)
    profile: str | None = None  # None: the tool's own profile folder; "edge-default": the OS default Edge dir
    profile_name: str = "Default"
    profile_policy: ProfilePolicy = ProfilePolicy.BASE_FIRST
    browser: BrowserKind = BrowserKind.EDGE
    browser_binary: Path | None = None
    driver: Path | None = None
    headless: bool = True
    config: Path | None = None
    fresh: bool = False

    # Tuning (config file or environment; defaults from the earlier plan, facts/coupa-site.md; see README).
    auth_check_path: str = "/user/home"
    task_timeout: float = Field(default=300.0, gt=0)
    page_load_timeout: float = Field(default=60.0, gt=0)
    download_timeout: float = Field(default=120.0, gt=0)
    download_start_timeout: float = Field(default=15.0, gt=0)
    auth_check_timeout: float = Field(default=30.0, gt=0)
    max_task_attempts: int = Field(default=3, ge=1, le=10)
    max_restarts: int = Field(default=3, ge=0, le=10)
    memory_threshold: float = Field(default=0.75, ge=0.5, le=0.9)
    shutdown_timeout: float = Field(default=60.0, gt=0, le=60.0)
    clone_timeout: float = Field(default=60.0, gt=0)
    requisition_fallback: bool = True

    # Attachment downloads (issue 10): `auto` fetches files over HTTP with each window's own session and falls
    # back to the in-page download when the network or server refuses; `http` never falls back; `browser`
    # takes every file through the browser's download. `download_concurrency`: files of one PO at once.
    download_mode: Literal["auto", "http", "browser"] = "auto"
    download_concurrency: int = Field(default=3, ge=1, le=8)

    @field_validator("base_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL such as https://acme.coupahost.com, got {value!r}")
        if parsed.path or parsed.query or parsed.fragment:  # every page is built from it: host only
            raise ValueError(
                f"must be the Coupa host alone, such as {parsed.scheme}://{parsed.netloc}, got {value!r}"
            )
        return value

    @field_validator("profile_name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"must be a profile folder name such as Default, got {value!r}")
        return value

    @field_validator("auth_check_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"must start with '/', got {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given: `load_config` gathers flags, environment and files itself, so that it
        knows where every value came from (see `Provenance`)."""
        return (init_settings,)

    @property
    def provenance(self) -> Provenance:
        """Where each value came from; all defaults when built directly rather than by `load_config`."""
        return self._provenance if self._provenance is not None else Provenance({}, ())

    @property
    def auth_check_url(self) -> str:
        """The light authenticated page windows are verified on."""
        return f"{self.require_base_url()}{self.auth_check_path}"

    def require_base_url(self) -> str:
        """The base URL, or a `ConfigError` naming the ways to give it."""
        if not self.base_url:
            raise ConfigError(
                "no Coupa address: give --base-url URL (or COUPADL_BASE_URL, or base_url in the config file; "
                "`coupadl login --base-url URL --save-base-url` remembers it)"
            )
        return self.base_url

    # Run time (i11-runtime): results while running, faults of the machine.
    results_interval: float = Field(default=30.0, gt=0)  # seconds between two rewrites of results.csv
    min_free_space_mb: float = Field(default=16.0, ge=0)  # below this free on the --out disk the run stops

    # --- PO pages: where the browser landed, settling, throttling (issue 9, page half) ---
    # Texts of the site's "not found / not authorized" page, per language, matched case-insensitively as
    # parts of error boxes (`div.flash_error`, `div.notice`, `#error_explanation`) and `h1` headings.
    page_error_texts: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {k: tuple(v) for k, v in DEFAULT_PAGE_ERROR_TEXTS.items()}
    )
    # Text a script-rendered attachments area shows while it loads (matched at the start of a short text).
    loading_texts: tuple[str, ...] = DEFAULT_LOADING_TEXTS
    settle_quiet: float = Field(default=2.0, ge=0, le=60)  # "no attachments" only after this long unchanged
    settle_timeout: float = Field(default=15.0, gt=0, le=300)  # a page not settled by then is retried
    throttle_backoff: float = Field(default=30.0, gt=0, le=3600)  # HTTP 429 without Retry-After: wait this
    throttle_max_wait: float = Field(default=300.0, gt=0, le=3600)  # at most this, whatever Retry-After says
    throttle_slowdown: float = Field(default=60.0, ge=0, le=3600)  # after a 429: pace every window this long
    throttle_spacing: float = Field(default=1.0, ge=0, le=60)  # ...at most one new PO per this many seconds

    # --- windows on a Selenium Grid (i13-wire, issue 13) ---
    # `grid`: the Grid's address; windows are then Remote WebDriver sessions there, signed in with the base's
    # cookies. `grid_insecure`: accept a plain http:// Grid off loopback (the cookies travel unencrypted).
    # `grid_cookie_domains`: SSO / file-storage hosts whose cookies are carried besides the tenant's.
    grid: str | None = None
    grid_insecure: bool = False
    grid_cookie_domains: tuple[str, ...] = ()

    @field_validator("grid_cookie_domains", mode="before")
    @classmethod
    def _domain_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # COUPADL_GRID_COOKIE_DOMAINS=a.example,b.example
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="before")
    @classmethod
    def _local_window_limit(cls, data: Any) -> Any:
        # Before validation, so the error shows the value as the operator wrote it (`COUPADL_WORKERS='12'`).
        if not isinstance(data, dict) or data.get("grid") is not None or "workers" not in data:
            return data
        raw = data["workers"]
        try:
            workers = int(raw)
        except (TypeError, ValueError):
            return data  # the field's own validation reports it
        if workers > MAX_WORKERS:
            # Reported on `workers` (its loc), so the error names where the operator gave it.
            error = PydanticCustomError(
                "local_workers",
                "must be between {low} and {high} for windows on this machine (up to {grid} with --grid)",
                {"low": MIN_WORKERS, "high": MAX_WORKERS, "grid": MAX_GRID_WORKERS},
            )
            raise ValidationError.from_exception_data(
                "Settings", [InitErrorDetails(type=error, loc=("workers",), input=raw)]
            )
        return data


class Source(StrEnum):
    """Where a setting's value came from, highest precedence first."""

    FLAG = "flag"
    ENVIRONMENT = "environment"
    CONFIG_FILE = "config file"  # --config FILE / COUPADL_CONFIG
    USER_FILE = "user config file"  # the per-user config.toml
    DEFAULT = "default"


@dataclass(frozen=True)
class Origin:
    """One value's source and how the operator spells it there (`--workers`, `COUPADL_WORKERS`,
    `workers in /home/op/.config/coupadl/config.toml`, `default`)."""

    source: Source
    name: str
    file: Path | None = None

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Provenance:
    """Where every setting came from (fields absent from `origins` are defaults), and the files read."""

    origins: Mapping[str, Origin]
    files: tuple[Path, ...]

    def origin(self, field: str) -> Origin:
        """The origin of `field` (a default when nothing set it)."""
        return self.origins.get(field, Origin(Source.DEFAULT, "default"))


@dataclass(frozen=True)
class LoadedConfig:
    """The result of loading: validated settings and where each value came from."""

    settings: Settings
    provenance: Provenance


_FLAG_NAMES = {"headless": "--headless/--visible"}


def flag_name(field_name: str) -> str:
    """How a setting is spelt on the command line."""
    return _FLAG_NAMES.get(field_name, "--" + field_name.replace("_", "-"))


def env_name(field_name: str) -> str:
    """The `COUPADL_*` environment variable of a setting."""
    return "COUPADL_" + field_name.upper()


def _spelt(name: str, value: Any, origins: Mapping[str, Origin]) -> str:
    """A bad value as the operator wrote it, where they wrote it."""
    where = origins.get(name, Origin(Source.DEFAULT, name))
    if where.source is Source.FLAG:
        return f"{where.name} {value!r}"
    if where.source is Source.ENVIRONMENT:
        return f"{where.name}={value!r}"
    if where.file is not None:
        return f"{name} = {value!r} in {where.file}"
    return f"{name} {value!r}"


def _file_origin(source: Source, path: Path, key: str) -> Origin:
    return Origin(source, f"{key} in {path}", path)


def _from_environment(env: Mapping[str, str]) -> dict[str, tuple[Any, Origin]]:
    upper = {k.upper(): v for k, v in env.items()}
    found: dict[str, tuple[Any, Origin]] = {}
    for field in Settings.model_fields:
        name = env_name(field)
        if field != "config" and name in upper:
            found[field] = (upper[name], Origin(Source.ENVIRONMENT, name))
    return found


def _from_file(path: Path, source: Source) -> dict[str, tuple[Any, Origin]]:
    data = read_config_file(path)
    known = [f for f in Settings.model_fields if f != "config"]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(known))})"
            raise ConfigError(f"unknown key {key!r} in {path}{hint}")
    return {k: (v, _file_origin(source, path, k)) for k, v in data.items()}


def load_config(
    flags: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    user_file: Path | None = None,
) -> LoadedConfig:
    """Build `Settings` from the flags actually given (None values are ignored), the `COUPADL_*`
    environment, the `--config` file and the per-user file, remembering where each value came from.

    Args:
        flags: command-line values by field name; None means "not given".
        env: the environment to read (the process environment when None).
        user_file: the per-user config file (`user_config_file()` when None; read only if it exists).

    Raises:
        ConfigError: one line naming the real source of a bad value (`--workers`, `COUPADL_WORKERS`,
            `workers in FILE`), an unknown file key with a "did you mean", or an unreadable file.
    """
    env = os.environ if env is None else env
    user_file = user_config_file() if user_file is None else user_file
    layers: list[dict[str, tuple[Any, Origin]]] = []  # lowest precedence first
    files: list[Path] = []
    if user_file.is_file():
        layers.append(_from_file(user_file, Source.USER_FILE))
        files.append(user_file)
    given = {k: v for k, v in flags.items() if v is not None}
    config_value = given.get("config")
    config_origin = Origin(Source.FLAG, "--config")
    if config_value is None and env.get("COUPADL_CONFIG"):
        config_value, config_origin = env["COUPADL_CONFIG"], Origin(Source.ENVIRONMENT, "COUPADL_CONFIG")
    if config_value is not None:
        config_path = Path(config_value).expanduser()
        if not config_path.is_file():
            raise ConfigError(f"{config_origin}: config file not found: {config_path}")
        layers.append(_from_file(config_path, Source.CONFIG_FILE))
        files.append(config_path)
    layers.append(_from_environment(env))
    layers.append({k: (v, Origin(Source.FLAG, flag_name(k))) for k, v in given.items() if k != "config"})
    merged: dict[str, tuple[Any, Origin]] = {}
    for layer in layers:
        merged.update(layer)
    if config_value is not None:
        merged["config"] = (Path(config_value), config_origin)
    origins = {k: origin for k, (_, origin) in merged.items()}
    try:
        settings = Settings(**{k: value for k, (value, _) in merged.items()})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "settings"
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"unknown setting {name!r}") from None
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid {_spelt(name, err.get('input'), origins)}: {message}") from None
    provenance = Provenance(origins, tuple(files))
    settings._provenance = provenance
    return LoadedConfig(settings, provenance)


def load_settings(flags: Mapping[str, Any]) -> Settings:
    """`load_config(flags).settings`: the validated settings (their `provenance` attached)."""
    return load_config(flags).settings
