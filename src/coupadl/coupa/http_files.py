"""Attachments over plain HTTP with the window's own session: its cookies for each URL, its User-Agent.

One `fetch_file` call streams one file into the PO folder under a hidden temporary name
(`.coupadl-<random>.part`), hashing while it writes, checks the length against `Content-Length`, and fsyncs;
the caller then puts it in place (never overwriting) or removes it. Redirects are followed by hand, one hop at
a time, so each hop gets the cookies the browser would send to *that* URL (SSO and storage hosts have their
own); a hop to a sign-in page is session expiry.

What can go wrong is said by the exception:

- `HttpRefused`: this network or server will not let a plain client through (transport, TLS, proxy, 401/403/
  407): the caller falls back to the in-page download.
- `HttpTryFailed`: one try failed in a way another try may fix (5xx, 429, 404, a short body).
- `SessionExpiredError`: a redirect to sign-in.

The clients (trust store, system proxies) and whether HTTP still serves in this process are in
`coupadl.coupa.http_clients`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from coupadl.browser.signin import signin_redirect
from coupadl.coupa.filenames import disposition_filename
from coupadl.coupa.http_clients import HttpClients
from coupadl.errors import SessionExpiredError
from coupadl.lean_imports import without_modules

with without_modules("httpx._main"):  # httpx's command-line client: click, rich, pygments
    import httpx

__all__ = [
    "MAX_REDIRECTS",
    "TEMP_PREFIX",
    "TEMP_SUFFIX",
    "FetchLimits",
    "FetchedFile",
    "HttpRefused",
    "HttpTryFailed",
    "fetch_file",
    "is_temp_name",
    "sweep_temp_files",
]

TEMP_PREFIX = ".coupadl-"
TEMP_SUFFIX = ".part"
MAX_REDIRECTS = 10
_CHUNK = 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_REFUSED = frozenset({401, 403, 407})


class HttpRefused(Exception):
    """The HTTP path cannot serve this file here (network, TLS, proxy or authorisation): use the browser."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpTryFailed(Exception):
    """One HTTP try failed in a way another try may fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchCancelled(Exception):
    """Another file of the same PO ended the PO (session expired, disk full): this one stopped."""


@dataclass(frozen=True)
class FetchedFile:
    """A completed download, still under its temporary name in the PO folder.

    Attributes:
        temp: The temporary file (hidden, in the PO folder).
        name: The name the server gave (`Content-Disposition`, else the final URL's last segment).
        size: Length in bytes.
        sha256: Hex SHA-256 of the content.
        final_url: The URL that served the bytes (after redirects).
        content_type: The response's `Content-Type`.
    """

    temp: Path
    name: str
    size: int
    sha256: str
    final_url: str
    content_type: str


@dataclass(frozen=True)
class FetchLimits:
    """Time limits of one try (seconds).

    Attributes:
        connect: Longest wait for a connection (and for the response's headers).
        stall: Longest gap between two pieces of the body.
        total: Longest time the whole try may take.
    """

    connect: float = 15.0
    stall: float = 30.0
    total: float = 120.0


# --- names ------------------------------------------------------------------------------------------------


def _url_name(url: str) -> str:
    return unquote(urlparse(url).path.rstrip("/").rsplit("/", 1)[-1])


# --- temporary files --------------------------------------------------------------------------------------


def is_temp_name(name: str) -> bool:
    """Whether `name` is one of this module's temporary download names."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def sweep_temp_files(folder: Path) -> list[str]:
    """Remove temporary downloads a killed worker left in a PO folder; returns the names removed.

    Only the worker processing that PO writes into its folder, so whatever temporary file is there when it
    starts is a leftover.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                Path(entry.path).unlink()
                removed.append(entry.name)
    return removed


# --- one file -----------------------------------------------------------------------------------------------


def fetch_file(
    clients: HttpClients,
    url: str,
    folder: Path,
    *,
    page_url: str,
    cookie_header: Callable[[str], str],
    user_agent: str,
    limits: FetchLimits,
    cancel: threading.Event | None = None,
) -> FetchedFile:
    """Stream the file at `url` into `folder` under a temporary name (one try).

    Args:
        clients: The process's HTTP clients.
        url: The file URL found on the page.
        folder: The PO folder (must exist).
        page_url: The page that lists the file (its host is the tenant; it is also the `Referer`).
        cookie_header: URL → the `Cookie` header the window would send there (asked again for each hop).
        user_agent: The window's User-Agent.
        limits: Time limits of this try.
        cancel: Set when the PO ends early; the transfer stops at the next piece.

    Returns:
        The completed temporary file (the caller places or removes it).

    Raises:
        HttpRefused: Transport, TLS or proxy failure, or 401/403/407.
        HttpTryFailed: Another try may help (5xx, 429, other 4xx, a short body, too slow).
        SessionExpiredError: A redirect to sign-in or to the identity provider.
        FetchCancelled: `cancel` was set.
        OSError: Writing the file failed (disk full...).
    """
    started = time.monotonic()
    timeout = httpx.Timeout(
        connect=limits.connect, read=limits.stall, write=limits.stall, pool=limits.connect
    )
    tenant = urlparse(page_url).hostname
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        _check_cancel(cancel)
        headers = {"User-Agent": user_agent, "Accept": "*/*"}
        cookies = cookie_header(current)
        if cookies:
            headers["Cookie"] = cookies
        if urlparse(current).hostname == tenant:
            headers["Referer"] = page_url
        client = clients.for_url(current)
        try:
            response = client.send(
                client.build_request("GET", current, headers=headers, timeout=timeout), stream=True
            )
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:  # connected: the server itself is slow
            raise HttpTryFailed(f"no answer from {_host(current)} in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:  # connect, TLS, proxy: this network may let only the browser in
            raise HttpRefused(f"{type(exc).__name__} reaching {_host(current)}: {_first_line(exc)}") from None
        try:
            status = response.status_code
            if status in _REDIRECTS and response.headers.get("location"):
                target = urljoin(current, response.headers["location"])
                _check_signin(page_url, url, target)
                current = target
                continue
            if status in _REFUSED:
                raise HttpRefused(f"{_host(current)} answered HTTP {status}")
            if not 200 <= status < 300:
                raise HttpTryFailed(f"the server answered HTTP {status}")
            return _stream(response, folder, current, limits, started, cancel)
        finally:
            response.close()
    raise HttpTryFailed(f"more than {MAX_REDIRECTS} redirects from {_host(url)}")


def _stream(
    response: httpx.Response,
    folder: Path,
    final_url: str,
    limits: FetchLimits,
    started: float,
    cancel: threading.Event | None,
) -> FetchedFile:
    name = disposition_filename(response.headers.get("content-disposition", "")) or _url_name(final_url)
    expected = response.headers.get("content-length")
    temp = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
    digest = hashlib.sha256()
    size = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                for chunk in response.iter_bytes(_CHUNK):
                    _check_cancel(cancel)
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if time.monotonic() - started > limits.total:
                        raise HttpTryFailed(f"the download did not finish within {limits.total:g} s")
            except httpx.TimeoutException:
                raise HttpTryFailed(f"the download stopped for {limits.stall:g} s") from None
            except httpx.TransportError as exc:
                raise HttpTryFailed(f"the transfer broke off ({type(exc).__name__})") from None
            out.flush()
            os.fsync(out.fileno())
        # Content-Length counts the bytes as sent: before a Content-Encoding (gzip...) is undone.
        encoded = response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")
        received = response.num_bytes_downloaded if encoded else size
        if expected is not None and expected.isdigit() and int(expected) != received:
            raise HttpTryFailed(f"received {received} bytes, the server announced {expected}")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return FetchedFile(
        temp=temp,
        name=name,
        size=size,
        sha256=digest.hexdigest(),
        final_url=final_url,
        content_type=response.headers.get("content-type", ""),
    )


def _check_signin(page_url: str, file_url: str, target: str) -> None:
    """A redirect hop to the tenant's sign-in page or to an identity provider is session expiry; other hosts
    (signed storage URLs) are not."""
    where = signin_redirect(page_url, target) or signin_redirect(file_url, target)
    if where and where.startswith(("identity provider", "sign-in page")):
        raise SessionExpiredError(f"the file route sent the client to {where}", redirected_to=target)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise FetchCancelled("stopped: the PO ended")


def _host(url: str) -> str:
    return urlparse(url).netloc or url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
