"""The HTTP clients of one worker process, and whether the HTTP path still serves in it.

Corporate networks: certificates are checked against the operating system's trust store (`truststore`, so
TLS-inspecting proxies whose root the IT department installed are trusted as in the browser), and the
system's proxy settings apply (`urllib.request.getproxies` / `proxy_bypass`: environment variables, the
Windows registry, macOS network settings). HTTP client debug logging is forced off: it would print request
headers (cookies). The clients keep no cookies: the browser is their only source.
"""

from __future__ import annotations

import logging
import ssl
import threading
import urllib.request
from collections.abc import Callable
from urllib.parse import urlparse

import truststore

from coupadl.lean_imports import without_modules
from coupadl.log import get_logger

with without_modules("httpx._main"):  # httpx's command-line client: click, rich, pygments
    import httpx

__all__ = [
    "HttpClients",
    "HttpHealth",
    "http_health",
    "quiet_http_logging",
    "reset_shared_clients",
    "shared_clients",
]


# --- clients ------------------------------------------------------------------------------------------------


def quiet_http_logging() -> None:
    """Keep httpx's and httpcore's own logging at WARNING: their debug output carries request headers."""
    for name in ("httpx", "httpcore", "hpack"):
        logging.getLogger(name).setLevel(logging.WARNING)


class _NoCookies(httpx.Cookies):
    """A jar that never keeps a cookie: the browser is the only source of cookies."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class HttpClients:
    """httpx clients of one worker process: the OS trust store, one client per system proxy (or none).

    Args:
        max_connections: Connections each client may hold open.
        proxies: Scheme → proxy URL; None reads the system settings (`urllib.request.getproxies`).
        bypass: Whether a host skips the proxy; None uses the system's rule (`urllib.request.proxy_bypass`).
        transport: A transport to use instead of the network (tests).
    """

    def __init__(
        self,
        *,
        max_connections: int = 8,
        proxies: dict[str, str] | None = None,
        bypass: Callable[[str], bool] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        quiet_http_logging()
        self._context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._proxies = dict(urllib.request.getproxies() if proxies is None else proxies)
        self._bypass = bypass if bypass is not None else _system_bypass
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._clients: dict[str | None, httpx.Client] = {}
        self._transport = transport
        self._lock = threading.Lock()

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request to `url` goes through, or None for a direct connection."""
        parsed = urlparse(url)
        host = parsed.hostname or ""
        proxy = self._proxies.get(parsed.scheme) or self._proxies.get("all")
        if not proxy or self._bypass(host):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    def for_url(self, url: str) -> httpx.Client:
        """The client for `url` (made on first use, then kept for its connections)."""
        proxy = self.proxy_for(url)
        with self._lock:
            client = self._clients.get(proxy)
            if client is None:
                # The first client imports httpcore, which would load trio for async use (never here).
                with without_modules("trio"):
                    client = httpx.Client(
                        verify=self._context,
                        proxy=proxy,
                        trust_env=False,  # proxies are decided here, per URL, from the system settings
                        follow_redirects=False,
                        cookies=_NoCookies(),
                        limits=self._limits,
                        transport=self._transport,
                    )
                self._clients[proxy] = client
            return client

    def close(self) -> None:
        """Close every client's connections."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _system_bypass(host: str) -> bool:
    try:
        return bool(urllib.request.proxy_bypass(host))
    except OSError:  # registry or system settings unreadable
        return False


_shared: HttpClients | None = None
_shared_lock = threading.Lock()


def shared_clients() -> HttpClients:
    """This process's clients (made on first use; a worker keeps its connections from PO to PO)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = HttpClients()
        return _shared


def reset_shared_clients() -> None:
    """Forget this process's clients (after the system proxy settings changed; tests)."""
    global _shared
    with _shared_lock:
        old, _shared = _shared, None
    if old is not None:
        old.close()


class HttpHealth:
    """Whether the HTTP path still serves in this process: after `limit` refusals in a row it is turned off
    for the rest of the worker's run, with one warning.

    Args:
        limit: Refusals in a row (no success between) that turn the HTTP path off.
    """

    def __init__(self, limit: int = 3) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._off_reason = ""

    @property
    def usable(self) -> bool:
        """False once the HTTP path was turned off."""
        return not self._off_reason

    def succeeded(self) -> None:
        """A file came over HTTP: the count starts again."""
        with self._lock:
            self._in_a_row = 0

    def refused(self, reason: str) -> None:
        """The HTTP path was refused once; the `limit`-th time in a row turns it off (one warning)."""
        with self._lock:
            self._in_a_row += 1
            if self._off_reason or self._in_a_row < self.limit:
                return
            self._off_reason = reason
        get_logger().warning(
            "http.disabled",
            reason=reason,
            refusals=self.limit,
            detail="files go through the browser for the rest of this window's run",
        )

    def reset(self) -> None:
        """Back to usable (tests)."""
        with self._lock:
            self._in_a_row = 0
            self._off_reason = ""


_health = HttpHealth()


def http_health() -> HttpHealth:
    """This process's `HttpHealth`."""
    return _health
