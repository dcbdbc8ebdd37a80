"""Which Grid addresses `--grid` accepts.

Carried sign-in cookies are credentials and travel to the Grid's nodes in WebDriver commands, so a plain
`http://` Grid is accepted only on this machine's loopback, unless the operator says `--grid-insecure`.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from coupadl.errors import ConfigError

__all__ = ["check_grid_url", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback IP addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_grid_url(url: str, *, allow_insecure: bool = False) -> str:
    """The Grid's address, normalised (no trailing slash, no query or fragment), or a one-line `ConfigError`.

    Args:
        url: What the operator gave (`--grid`, `COUPADL_GRID`, config `grid`), e.g. `https://grid.example:4444`
            or `http://127.0.0.1:4444/wd/hub`.
        allow_insecure: `--grid-insecure`: accept plain `http://` to a host that is not loopback.

    Raises:
        ConfigError: Not an http(s) URL with a host, credentials in it, or plain http off loopback.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"--grid {text!r} is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--grid {text!r} is not an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ConfigError("--grid must not carry a user name or password in the URL")
    if scheme == "http" and not is_loopback_host(parts.hostname) and not allow_insecure:
        raise ConfigError(
            f"--grid {parts.hostname}: plain http:// to another machine would send the sign-in cookies "
            "unencrypted; use https:// or give --grid-insecure"
        )
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))
