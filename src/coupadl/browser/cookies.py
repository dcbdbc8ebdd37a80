"""The window's own session, read for an HTTP client: the cookies it would send to a URL, its User-Agent.

Cookies are read with CDP `Network.getCookies` for one URL at a time, so the browser itself decides which
cookies apply (domain, path, `Secure`, partitioning, SSO and storage-host cookies alike). Values are secrets:
`BrowserCookie` never shows them in its `repr`, and nothing here logs them.

Every call goes through the session's `_call`, so Selenium's errors are translated at the usual boundary, and
must be made on the thread that drives the browser.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coupadl.browser.session import BrowserSession

__all__ = ["BrowserCookie", "cookie_header", "quiet_driver_logging", "window_cookies", "window_user_agent"]

# Selenium logs every driver response at DEBUG, `Network.getCookies` answers (cookie values) included.
_DRIVER_LOGGERS = ("selenium.webdriver.remote.remote_connection",)


def quiet_driver_logging() -> None:
    """Keep Selenium's wire logging above DEBUG: at DEBUG it would print the cookie values read here."""
    for name in _DRIVER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET or DEBUG
            logger.setLevel(logging.INFO)


@dataclass(frozen=True)
class BrowserCookie:
    """One cookie the browser would send; the value is kept out of `repr` (it is a credential).

    Attributes:
        name: Cookie name.
        value: Cookie value (secret).
        domain: Domain attribute as the browser stores it (`.example.com` for a domain cookie).
        path: Path attribute.
    """

    name: str
    value: str = field(repr=False)
    domain: str = ""
    path: str = "/"


def window_cookies(session: BrowserSession, url: str) -> list[BrowserCookie]:
    """The cookies the window would send with a request to `url` (CDP `Network.getCookies`).

    Args:
        session: The worker's browser; called on the thread that drives it.
        url: An absolute http(s) URL.

    Returns:
        The cookies, most specific path first (the order a browser sends them in).

    Raises:
        BrowserCrashedError: The browser is gone.
        RetryableTaskError: The browser refused the command.
    """
    quiet_driver_logging()
    answer = session.cdp("read the cookies for a file", "Network.getCookies", {"urls": [url]})
    raw = answer.get("cookies") if isinstance(answer, dict) else None
    cookies = [_cookie(item) for item in raw or [] if isinstance(item, dict) and item.get("name")]
    cookies.sort(key=lambda c: len(c.path), reverse=True)
    return cookies


def window_user_agent(session: BrowserSession) -> str:
    """The User-Agent the window sends (read once per session, then remembered)."""
    return session.user_agent()


def cookie_header(cookies: list[BrowserCookie]) -> str:
    """The `Cookie` request header for these cookies (empty string for none)."""
    return "; ".join(f"{c.name}={c.value}" for c in cookies)


def _cookie(item: dict[str, Any]) -> BrowserCookie:
    return BrowserCookie(
        name=str(item["name"]),
        value=str(item.get("value") or ""),
        domain=str(item.get("domain") or ""),
        path=str(item.get("path") or "/"),
    )
