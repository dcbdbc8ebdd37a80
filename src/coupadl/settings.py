"""Run settings: built once at the edge (the CLI) and passed down, never read from the environment deeper in.

Precedence, highest first: command-line flag > `COUPADL_*` environment variable > TOML config file > default.
"""

from __future__ import annotations

import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from coupadl.errors import ConfigError

__all__ = [
    "DEFAULT_LOADING_TEXTS",
    "DEFAULT_PAGE_ERROR_TEXTS",
    "BrowserKind",
    "ProfilePolicy",
    "Settings",
    "load_settings",
]

MIN_WORKERS = 1
MAX_WORKERS = 8


class BrowserKind(StrEnum):
    """Which Chromium-family browser drives the windows."""

    EDGE = "edge"
    CHROME = "chrome"
    CHROMIUM = "chromium"


class ProfilePolicy(StrEnum):
    """Which windows run on the base profile itself."""

    BASE_FIRST = "base-first"  # window A on the base, B..N on clones
    ALL_CLONES = "all-clones"  # every window on a clone; the base is only read once, for the snapshot


DEFAULT_PAGE_ERROR_TEXTS: dict[str, tuple[str, ...]] = {
    # English: the texts the earlier downloader matched on real tenants, and the access-denied texts seen
    # there (facts/coupa-site.md), plus Rails' public/404.html wording ("The page you were looking for
    # doesn't exist").
    "en": (
        "Oops! We couldn't find what you wanted",
        "We couldn't find what you wanted",
        "You are not authorized",
        "not authorized",
        "Access denied",
        "You do not have permission",
        "insufficient privileges",
        "The page you were looking for doesn't exist",
        "The page you were looking for does not exist",
    ),
    # pt-BR: the not-found text from the earlier downloader's config (facts/coupa-site.md); the access texts
    # are rails-i18n / CanCanCan pt-BR wording ("Você não está autorizado a acessar esta página").
    "pt-BR": (
        "Desculpe, não encontramos o que você procurava",
        "não encontramos o que você procurava",
        "Você não está autorizado",
        "não autorizado",
        "Você não tem permissão",
        "Acesso negado",
        "A página que você procura não existe",
    ),
    # es, fr, de: CanCanCan's unauthorized message and Rails' 404 page as their community locales word them;
    # not seen on a tenant yet: add the tenant's exact text here (config file) when it differs.
    "es": (
        "no encontramos lo que buscaba",
        "No está autorizado",
        "no tiene permiso",
        "Acceso denegado",
        "La página que buscaba no existe",
    ),
    "fr": (
        "nous n'avons pas trouvé ce que vous cherchiez",
        "Vous n'êtes pas autorisé",
        "Vous n'avez pas la permission",
        "Accès refusé",
        "La page que vous recherchez n'existe pas",
    ),
    "de": (
        "Wir konnten nicht finden, wonach Sie gesucht haben",
        "Sie sind nicht berechtigt",
        "Sie haben keine Berechtigung",
        "Zugriff verweigert",
        "Die gesuchte Seite existiert nicht",
    ),
}
"""Default `page_error_texts`: Coupa's "missing or forbidden" page in the tenant languages operators use."""

DEFAULT_LOADING_TEXTS: tuple[str, ...] = ("Loading", "Carregando", "Cargando", "Chargement", "Wird geladen")
"""Default `loading_texts` (en, pt-BR, es, fr, de): what a list rendered by script shows until it is there."""


class Settings(BaseSettings):
    """Everything a run needs, validated. Field names are the config-file keys."""

    model_config = SettingsConfigDict(env_prefix="COUPADL_", extra="forbid", frozen=True)

    base_url: str | None = None
    out: Path = Path("coupadl-output")
    workers: int = Field(default=3, ge=MIN_WORKERS, le=MAX_WORKERS)
    profile: str | None = None  # None: the tool's own profile folder; "edge-default": the OS default Edge dir
    profile_name: str = "Default"
    profile_policy: ProfilePolicy = ProfilePolicy.BASE_FIRST
    browser: BrowserKind = BrowserKind.EDGE
    browser_binary: Path | None = None
    driver: Path | None = None
    headless: bool = True
    config: Path | None = None
    fresh: bool = False

    # Tuning (config file or environment; defaults from the earlier plan in the facts, see README).
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

    @field_validator("base_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL such as https://acme.coupahost.com, got {value!r}")
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
        """Flags (init) > environment > config file; no dotenv or secrets files."""
        return (init_settings, env_settings, _ConfigFileSource(settings_cls))

    @property
    def auth_check_url(self) -> str:
        """The light authenticated page windows are verified on."""
        return f"{self.require_base_url()}{self.auth_check_path}"

    def require_base_url(self) -> str:
        """The base URL, or a `ConfigError` naming the three ways to give it."""
        if not self.base_url:
            raise ConfigError(
                "no Coupa address: give --base-url URL (or COUPADL_BASE_URL, or base_url in --config)"
            )
        return self.base_url

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


# The config file's values for the instance being built; set by `load_settings` only.
_config_file_values: dict[str, Any] = {}


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Lowest-priority source: the TOML file named by --config / COUPADL_CONFIG."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _config_file_values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_config_file_values)


_FLAG_NAMES = {"headless": "--headless/--visible"}


def _flag(field_name: str) -> str:
    return _FLAG_NAMES.get(field_name, "--" + field_name.replace("_", "-"))


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    data = data.get("coupadl", data) if isinstance(data.get("coupadl"), dict) else data
    unknown = sorted(set(data) - set(Settings.model_fields) - {"config"})
    if unknown:
        known = ", ".join(sorted(Settings.model_fields))
        raise ConfigError(f"config file {path}: unknown key {unknown[0]!r} (known keys: {known})")
    return {k: v for k, v in data.items() if k != "config"}


def load_settings(flags: dict[str, Any]) -> Settings:
    """Build `Settings` from the flags actually given (None values are ignored), the environment and the
    config file. Raises `ConfigError` with one line naming the offending flag and value.
    """
    global _config_file_values
    given = {k: v for k, v in flags.items() if v is not None}
    config_path = given.get("config") or os.environ.get("COUPADL_CONFIG")
    _config_file_values = _read_config_file(Path(config_path)) if config_path else {}
    try:
        return Settings(**given)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "settings"
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"unknown setting {name!r}") from None
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid {_flag(name)} {err.get('input')!r}: {message}") from None
    finally:
        _config_file_values = {}
