"""What a Coupa PO (or requisition) page shows: error or not, supplier, attachments, linked requisitions.

One JavaScript probe (`PROBE_JS`, one browser round trip; or `SETTLE_JS`, which first waits inside the page
until it has settled) gathers raw facts from the page (`coupadl.coupa.page_scripts`); all judging happens in
Python (`classify_page`, with the attachments found by `coupadl.coupa.attachments`), so the rules are
unit-tested without a browser. This module is the public face of the three.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urljoin, urlparse, urlunparse

from coupadl.choices import DEFAULT_LOADING_TEXTS, DEFAULT_PAGE_ERROR_TEXTS
from coupadl.coupa.attachments import Attachment, Trigger, best_name_hint, is_file_url, page_attachments
from coupadl.coupa.page_scripts import (
    ATTACHMENT_AREA_SELECTOR,
    PROBE_JS,
    RETRY_AFTER_JS,
    SETTLE_JS,
    settle_arguments,
)

__all__ = [
    "ATTACHMENT_AREA_SELECTOR",
    "ERROR_TEXTS",
    "PROBE_JS",
    "RETRY_AFTER_JS",
    "SETTLE_JS",
    "TRANSIENT_ERROR_TEXTS",
    "Attachment",
    "Expected",
    "POPage",
    "PageKind",
    "Settle",
    "Trigger",
    "best_name_hint",
    "classify_page",
    "is_file_url",
    "parse_retry_after",
    "settle_arguments",
    "settle_page",
]

ERROR_TEXTS: tuple[str, ...] = tuple(t for texts in DEFAULT_PAGE_ERROR_TEXTS.values() for t in texts)
"""Texts of Coupa's "missing or forbidden" pages in every default language, matched case-insensitively inside
error boxes and headings (the setting `page_error_texts` replaces them for a run)."""

_ERROR_HEADING = re.compile(r"^\s*(oops|sorry)\b", re.IGNORECASE)

TRANSIENT_ERROR_TEXTS: tuple[str, ...] = (
    "something went wrong",
    "temporarily",
    "unavailable",
    "maintenance",
    "too many requests",
)
"""A "Sorry" heading with one of these is a server hiccup (Rails' 500 page says "We're sorry, but something
went wrong"), not a missing PO: it must be retried, never recorded as not found."""


class PageKind(StrEnum):
    """What a loaded page turned out to be."""

    CONTENT = "content"  # the PO (or requisition) itself
    NOT_FOUND = "not_found"  # Coupa's "missing or forbidden" page, or HTTP 404 / 403
    WRONG_PAGE = "wrong_page"  # landed elsewhere (home, another record) or an unexpected status: fail
    THROTTLED = "throttled"  # HTTP 429: wait, then try again without spending an attempt
    SERVER_ERROR = "server_error"  # a 5xx or "something went wrong" page: retry
    UNRECOGNISED = "unrecognised"  # an empty page (blank, half-loaded, no body): retry


@dataclass(frozen=True)
class Expected:
    """The page a task asked for, to check where the browser landed.

    Attributes:
        url: The address opened (its path must be the landed page's path).
        number: The PO's (or requisition's) digits; where the page shows a record number, it must be this.
        what: How messages name the record, e.g. `PO 15262984` or `requisition 5001234`.
    """

    url: str
    number: str
    what: str


@dataclass(frozen=True)
class Settle:
    """How the page settled before it was judged (from `SETTLE_JS`; all true for `PROBE_JS`).

    Attributes:
        settled: Document complete, nothing loading, candidates unchanged for the quiet time asked for.
        loading: The loading signs still shown (e.g. `aria-busy on #attachments`).
        quiet_s: How long the set of attachment candidates had been unchanged.
        waited_s: How long the script waited.
        ready_state: `document.readyState` at the end.
    """

    settled: bool = True
    loading: tuple[str, ...] = ()
    quiet_s: float = 0.0
    waited_s: float = 0.0
    ready_state: str = "complete"

    def reason(self, timeout: float) -> str:
        """Why the page did not settle, for `ERROR_MESSAGE`."""
        if self.ready_state and self.ready_state != "complete":
            return f"page still loading after {timeout:g} s (document {self.ready_state})"
        if self.loading:
            return f"attachments still loading after {timeout:g} s ({'; '.join(self.loading)})"
        return f"attachments still changing after {timeout:g} s"


@dataclass(frozen=True)
class POPage:
    """The judged content of a PO or requisition page.

    Attributes:
        url: The page's address when probed.
        kind: Content, not found, server error or unrecognised.
        error_text: The error message that decided `kind` (empty for content).
        supplier: The supplier's name, or empty when the page shows none.
        attachments: Files to download, deduplicated, in page order.
        requisitions: Absolute URLs of linked requisitions (`/requisition_headers/<id>`), deduplicated.
        has_password_form: The page shows a password field (a sign-in page served at the asked-for URL).
        marker: The marker the probe left in the page; it is gone once the tab navigates away.
        http_status: The navigation's HTTP status when the browser reports it, else 0.
        settle: How the page settled before it was judged.
    """

    url: str
    kind: PageKind
    error_text: str = ""
    supplier: str = ""
    attachments: tuple[Attachment, ...] = ()
    requisitions: tuple[str, ...] = ()
    has_password_form: bool = False
    marker: str = ""
    http_status: int = 0
    notes: tuple[str, ...] = field(default=(), compare=False)
    settle: Settle = field(default_factory=Settle, compare=False)

    @property
    def is_error(self) -> bool:
        """True for Coupa's missing-or-forbidden page."""
        return self.kind is PageKind.NOT_FOUND

    def attachment(self, key: str) -> Attachment | None:
        """The attachment with this key, if the page shows it."""
        return next((a for a in self.attachments if a.key == key), None)


_REQUISITION = re.compile(r"^(/requisition_headers/\d+)(?:/|$)", re.IGNORECASE)


# --- the page --------------------------------------------------------------------------------------------


def _texts(raw: Mapping[str, Any], key: str) -> list[str]:
    value = raw.get(key) or []
    return [str(v) for v in value if isinstance(v, str) and v.strip()]


def _matched_error(texts: Sequence[str], error_texts: Sequence[str]) -> str:
    for text in texts:
        lowered = text.lower()
        if any(e.lower() in lowered for e in error_texts):
            return text
    return ""


def _supplier(raw: Mapping[str, Any]) -> str:
    for item in raw.get("suppliers") or []:
        if not isinstance(item, Mapping):
            continue
        for value in (item.get("attr"), item.get("text")):
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())
    return ""


def _requisitions(raw: Mapping[str, Any], page_url: str) -> tuple[str, ...]:
    host = urlparse(page_url).hostname
    out: list[str] = []
    for href in _texts(raw, "requisitions"):
        parsed = urlparse(urljoin(page_url, href))
        match = _REQUISITION.match(parsed.path)
        if parsed.scheme not in ("http", "https") or parsed.hostname != host or not match:
            continue
        url = urlunparse(parsed._replace(path=match.group(1), params="", query="", fragment=""))
        if url not in out:
            out.append(url)
    return tuple(out)


_SHOWN_NUMBER = re.compile(r"(?:#\s*|\b(?:PO|PM)\s*)(\d{6,})\b", re.IGNORECASE)


def _shown_numbers(raw: Mapping[str, Any]) -> list[str]:
    """Record numbers the page shows in its title, `h1` headings or header attributes (`#15262984`,
    `PO15262984`, `data-po-number`), in that order, without repeats."""
    found: list[str] = []
    texts = [str(raw.get("title") or ""), *_texts(raw, "headings")]
    numbers = [m for t in texts for m in _SHOWN_NUMBER.findall(t)]
    numbers += [n.strip() for n in _texts(raw, "numbers") if n.strip().isdigit()]
    for number in numbers:
        if number not in found:
            found.append(number)
    return found


def _same_path(landed: str, expected: str) -> bool:
    a, b = urlparse(landed), urlparse(expected)
    return (
        a.scheme in ("http", "https")
        and (a.hostname or "").lower() == (b.hostname or "").lower()
        and a.path.rstrip("/") == b.path.rstrip("/")
    )


def _settle(raw: Mapping[str, Any]) -> Settle:
    info = raw.get("settle")
    ready = str(raw.get("ready") or "complete")
    if not isinstance(info, Mapping):
        return Settle(ready_state=ready, settled=ready == "complete")
    loading = tuple(str(x) for x in info.get("loading") or () if isinstance(x, str))

    def seconds(key: str) -> float:
        value = info.get(key)
        return float(value) / 1000 if isinstance(value, int | float) else 0.0

    return Settle(
        settled=bool(info.get("settled")),
        loading=loading,
        quiet_s=seconds("quiet_ms"),
        waited_s=seconds("waited_ms"),
        ready_state=ready,
    )


def _elsewhere(url: str, expected: Expected) -> str:
    """Where the browser landed when it is not the asked-for address (empty when it is)."""
    if _same_path(url, expected.url):
        return ""
    parsed = urlparse(url)
    where = parsed.path or url
    if parsed.hostname != urlparse(expected.url).hostname:
        where = f"{parsed.scheme}://{parsed.netloc}{parsed.path}" if parsed.netloc else url
    return f"landed on {where}, not {expected.what}"


def _at(evidence: str, detail: str) -> str:
    """`evidence`, with what the page showed there when it showed something."""
    return f"{evidence} ({detail})" if detail else evidence


def _wrong_record(raw: Mapping[str, Any], expected: Expected, status: int) -> str:
    """Why the page at the asked-for address is not the asked-for record (empty when it is)."""
    if status and not 200 <= status < 300:
        return f"HTTP {status}"
    shown = _shown_numbers(raw)
    if shown and expected.number not in shown:
        return f"the page shows {', '.join(f'#{n}' for n in shown[:3])}, not {expected.what}"
    return ""


def classify_page(
    raw: Mapping[str, Any],
    *,
    expected: Expected,
    po_digits: str = "",
    marker: str = "",
    error_texts: Sequence[str] = ERROR_TEXTS,
) -> POPage:
    """Judge the raw facts `PROBE_JS` (or `SETTLE_JS`) returned; where the browser landed decides first.

    Args:
        raw: The probe's result.
        expected: The page asked for; a final kind (`NOT_FOUND`, or `CONTENT` that may prove "no attachments")
            is only ever given to a page at this address.
        po_digits: The PO being processed (links to files of other orders are ignored).
        marker: The marker passed to the probe.
        error_texts: Texts of "missing or forbidden" pages (defaults to `ERROR_TEXTS`).

    Returns:
        The page as a `POPage`, in this order of evidence: HTTP 429 is `THROTTLED`; HTTP 5xx or a
        "something went wrong" heading is `SERVER_ERROR` (not final: retried, wherever it was shown); a
        probe that reports no address is `UNRECOGNISED`; another address than the one asked for is
        `WRONG_PAGE` naming it, whatever the page says (an expired session's
        sign-in page can show Coupa's not-found text); at the asked-for address, HTTP 404 / 403, or a known
        error text in an error box or heading (unless the page also shows PO content: then the message
        belongs to something else on it), is `NOT_FOUND`; another status than 2xx, or another record number
        in the title or header is `WRONG_PAGE`; an empty page is `UNRECOGNISED`; else `CONTENT`.
        `error_text` names the evidence for every kind but `CONTENT`.
    """
    url = str(raw.get("url") or "")
    status = raw.get("status")
    http_status = status if isinstance(status, int) else 0
    supplier = _supplier(raw)
    attachments = page_attachments(raw, url, po_digits)
    requisitions = _requisitions(raw, url)
    errors, headings = _texts(raw, "errors"), _texts(raw, "headings")
    has_content = bool(supplier or attachments)
    kind = PageKind.CONTENT
    known = _matched_error(errors + headings, error_texts)
    transient = _matched_error(headings + errors, TRANSIENT_ERROR_TEXTS)
    heading = next((h for h in headings if _ERROR_HEADING.search(h)), "")
    error = known or transient or heading
    body = raw.get("body")
    elsewhere = _elsewhere(url, expected)
    if http_status == 429:
        kind, error = PageKind.THROTTLED, "HTTP 429"
    elif http_status >= 500 or (transient and not known and not has_content):
        kind, error = PageKind.SERVER_ERROR, _at(transient or f"HTTP {http_status}", elsewhere)
    elif not url:
        kind, error = PageKind.UNRECOGNISED, "the page reported no address"
    elif elsewhere:
        kind, error = PageKind.WRONG_PAGE, _at(elsewhere, error if error and not has_content else "")
    elif http_status in (403, 404):
        kind, error = PageKind.NOT_FOUND, f"HTTP {http_status}"
    elif error and not has_content:
        kind = PageKind.NOT_FOUND
    elif wrong := _wrong_record(raw, expected, http_status):
        kind, error = PageKind.WRONG_PAGE, wrong
    elif not has_content and not requisitions and isinstance(body, int) and body == 0:
        kind, error = PageKind.UNRECOGNISED, "the page is empty"
    content = kind is PageKind.CONTENT
    return POPage(
        url=url,
        kind=kind,
        error_text="" if content else error,
        supplier=supplier,
        attachments=attachments if content else (),
        requisitions=requisitions if content else (),
        has_password_form=bool(raw.get("password")),
        marker=marker,
        http_status=http_status,
        notes=(f"error text on a page with content: {error}",) if content and error else (),
        settle=_settle(raw),
    )


def settle_page(
    tab: Any,
    *,
    quiet: float,
    timeout: float,
    po_digits: str = "",
    marker: str = "",
    error_texts: Sequence[str] = ERROR_TEXTS,
    loading_texts: Sequence[str] = DEFAULT_LOADING_TEXTS,
    expected: Expected,
) -> POPage:
    """Wait inside the page (one asynchronous script, one round trip) until it settles, then judge it.

    Settled means: the document is complete, no attachment area shows a loading sign, and the set of
    attachment candidates has been unchanged for `quiet` seconds. The page remembers since when the set is
    unchanged, so a second call with a longer `quiet` counts the time already passed.

    Args:
        tab: A `coupadl.browser.session.Tab` showing the page.
        quiet: How long the candidates must be unchanged (0: as soon as nothing is loading).
        timeout: The longest wait; `POPage.settle.settled` is False when it ran out.
        po_digits: The PO being processed.
        marker: A string left in the page to notice later whether the tab navigated away.
        error_texts: Texts of "missing or forbidden" pages.
        loading_texts: Texts a loading attachments area shows.
        expected: The page asked for (see `classify_page`).

    Returns:
        The judged page, with how it settled in `settle`.
    """
    raw = tab.run_async_js(
        SETTLE_JS, *settle_arguments(marker, quiet, timeout, loading_texts), timeout=timeout + 10.0
    )
    if not isinstance(raw, Mapping):
        raw = {}
    return classify_page(raw, po_digits=po_digits, marker=marker, error_texts=error_texts, expected=expected)


def parse_retry_after(value: str, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP date; None when unusable."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
