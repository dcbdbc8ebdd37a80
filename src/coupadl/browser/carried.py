"""The base's sign-in, carried to remote windows as cookies (never as a profile folder).

Once per run, a short local headless window on a throw-away copy of the run's snapshot reads every cookie
through CDP `Storage.getCookies` (the browser decrypts them: the cookie database is encrypted with a key only
the local browser can use). Only the cookies of the tenant's host and of the configured SSO/storage hosts
are kept, never the operator's other sites. They live in memory only: `CarriedCookie` hides its value from
`repr`, nothing here writes them or logs them, and the copy is removed before the function returns.

Session-only cookies (Rails' default sign-in cookie) are read too: the snapshot already holds them as
persistent ones (`coupadl.profiles.session_cookies`), so the short window needs no session restore.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from coupadl.browser.cookies import quiet_driver_logging
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.session import BrowserSession
from coupadl.errors import CarriedCookiesError, CoupadlError
from coupadl.log import get_logger
from coupadl.profiles.snapshot import Snapshot, copy_clone

__all__ = ["CarriedCookie", "keep_cookie_domain", "read_carried_cookies", "select_cookies"]


@dataclass(frozen=True)
class CarriedCookie:
    """One sign-in cookie of the base, held in memory for the remote windows; `repr` hides the value.

    Attributes:
        name: Cookie name.
        value: Cookie value (a credential: never logged, never written).
        domain: As the browser stores it: `.example.com` for a domain cookie, `host` for a host-only one.
        path: Path attribute.
        secure: Sent over https only.
        http_only: Hidden from page scripts.
        same_site: `Strict`, `Lax`, `None`, or None when the site set none.
        expires: Expiry (seconds since the epoch); None for a session-only cookie.
    """

    name: str
    value: str = field(repr=False)
    domain: str
    path: str = "/"
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None
    expires: float | None = None

    @property
    def host_only(self) -> bool:
        """Sent to exactly its host (no leading dot), not to its sub-domains."""
        return not self.domain.startswith(".")

    def applies_to(self, host: str) -> bool:
        """True if a browser would send this cookie to `host` (domain rules only)."""
        bare = self.domain.lstrip(".").lower()
        host = host.lower()
        return host == bare or (not self.host_only and host.endswith(f".{bare}"))

    def _common_params(self) -> dict[str, Any]:
        """What CDP and WebDriver name alike; each adds domain, SameSite and expiry its own way."""
        return {
            "name": self.name,
            "value": self.value,
            "path": self.path,
            "secure": self.secure,
            "httpOnly": self.http_only,
        }

    def cdp_params(self, scheme: str) -> dict[str, Any]:
        """This cookie as a CDP `Network.CookieParam` (a host-only cookie is set through its URL)."""
        params = self._common_params()
        if self.host_only:
            params["url"] = f"{'https' if self.secure else scheme}://{self.domain}{self.path}"
        else:
            params["domain"] = self.domain
        if self.same_site:
            params["sameSite"] = self.same_site
        if self.expires is not None:
            params["expires"] = self.expires
        return params

    def webdriver_params(self) -> dict[str, Any]:
        """This cookie as WebDriver's `add_cookie` argument (the window must be on its domain)."""
        params = self._common_params()
        if not self.host_only:
            params["domain"] = self.domain
        if self.same_site:
            params["sameSite"] = self.same_site
        if self.expires is not None:
            params["expiry"] = int(self.expires)
        return params


def keep_cookie_domain(cookie_domain: str, tenant_host: str, extra_domains: Iterable[str]) -> bool:
    """True for a cookie the tenant's host receives, or one of an SSO/storage domain (or its sub-domains)."""
    bare = cookie_domain.lstrip(".").lower()
    if not bare:
        return False
    tenant = tenant_host.lower()
    if tenant == bare or (cookie_domain.startswith(".") and tenant.endswith(f".{bare}")):
        return True
    for extra in extra_domains:
        wanted = extra.strip().lstrip(".").lower()
        if wanted and (bare == wanted or bare.endswith(f".{wanted}")):
            return True
    return False


def select_cookies(
    raw: Iterable[dict[str, Any]], tenant_url: str, extra_domains: Sequence[str] = ()
) -> list[CarriedCookie]:
    """The CDP cookies (`Storage.getCookies` items) to carry: the tenant's and the SSO/storage hosts' only.

    Partitioned cookies (CHIPS) are left out: they belong to one top-level site and cannot be set for it
    from outside a page.
    """
    host = urlsplit(tenant_url).hostname or ""
    kept: list[CarriedCookie] = []
    for item in raw:
        domain = str(item.get("domain") or "")
        if (
            not item.get("name")
            or item.get("partitionKey")
            or not keep_cookie_domain(domain, host, extra_domains)
        ):
            continue
        session = bool(item.get("session")) or float(item.get("expires") or -1) <= 0
        same_site = item.get("sameSite")
        kept.append(
            CarriedCookie(
                name=str(item["name"]),
                value=str(item.get("value") or ""),
                domain=domain,
                path=str(item.get("path") or "/"),
                secure=bool(item.get("secure")),
                http_only=bool(item.get("httpOnly")),
                same_site=str(same_site) if same_site else None,
                expires=None if session else float(item["expires"]),
            )
        )
    return kept


def read_carried_cookies(
    launch: LaunchConfig,
    snapshot: Snapshot,
    tenant_url: str,
    extra_domains: Sequence[str],
    work_dir: Path,
) -> list[CarriedCookie]:
    """Read the sign-in cookies to carry, through a short local headless window on a copy of `snapshot`.

    Args:
        launch: How local windows start (forced headless here).
        snapshot: The run's snapshot of the base (only copied, never opened).
        tenant_url: The tenant's address (its host decides which cookies are kept).
        extra_domains: SSO and storage hosts whose cookies are carried too (`example.okta.com`).
        work_dir: Where the throw-away copy is made (short path: Chromium's socket path limit); it is
            removed before returning, and the browser is ended by PID.

    Returns:
        The kept cookies, in memory only.

    Raises:
        CarriedCookiesError: The window did not start or read nothing, or no cookie is left for the tenant.
    """
    log = get_logger(__name__)
    started = time.monotonic()
    quiet_driver_logging()  # Selenium's DEBUG wire log would print the answer of Storage.getCookies
    copy = Path(tempfile.mkdtemp(prefix="carry-", dir=work_dir))
    try:
        try:
            copy_clone(snapshot, copy)
            session = BrowserSession.start(
                LaunchConfig(launch.executables, True, launch.page_load_timeout, launch.window_size),
                copy,
                snapshot.profile_name,
                copy / "downloads",
                restore_last_session=False,
            )
        except (CoupadlError, OSError) as exc:
            raise CarriedCookiesError(
                f"could not open a copy of the base to read its cookies: {exc}"
            ) from exc
        try:
            answer = session.cdp("read the base's cookies", "Storage.getCookies", {})
        except CoupadlError as exc:
            raise CarriedCookiesError(f"could not read the base's cookies: {exc}") from exc
        finally:
            session.quit()
    finally:
        _remove_tree(copy)
    raw = answer.get("cookies") if isinstance(answer, dict) else None
    items = [item for item in raw or [] if isinstance(item, dict)]
    cookies = select_cookies(items, tenant_url, extra_domains)
    host = urlsplit(tenant_url).hostname or tenant_url
    if not any(c.applies_to(host) for c in cookies):
        raise CarriedCookiesError(
            f"the base profile holds no cookie for {host}: sign in with `coupadl login` first"
        )
    log.info(
        "grid.cookies_read",
        kept=len(cookies),
        left_out=len(items) - len(cookies),
        names=sorted({c.name for c in cookies}),
        seconds=round(time.monotonic() - started, 2),
    )
    return cookies


def _remove_tree(path: Path, timeout: float = 5.0) -> None:
    """Remove `path`, retrying while Chromium's helpers (alive a moment after quit) still write into it."""

    def removed() -> bool:
        shutil.rmtree(path, ignore_errors=True)
        return not path.exists()

    again = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.1),
        retry=retry_if_result(lambda gone: not gone),
        retry_error_callback=lambda _state: False,  # still there at the deadline: left, as before
    )
    again(removed)
