"""What a Coupa PO (or requisition) page shows: error or not, supplier, attachments, linked requisitions.

One JavaScript probe (`PROBE_JS`, one browser round trip) gathers raw facts from the page and tags every
attachment candidate with a `data-coupadl-ref` attribute so it can be clicked later; all judging happens in
Python (`classify_page`), so the rules are unit-tested without a browser.

Attachments come in several forms on real Coupa pages:

- `li.attachment > span.attachment-file[data-url] > span[role=button][title]`: the inner `data-url` is the
  file, the outer `li`'s `/attachments/<id>` is only the "show" route; the button downloads through script.
- anchors: `a[href*='/attachments/'][href*='download']`, `a[download]`, links with `?filename=`;
- `data-url` on other elements pointing at a file route.

The same file shown in two forms is one attachment, keyed by its absolute URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlparse, urlunparse

from coupadl.browser.signin import SIGNIN_FORM_SELECTOR

__all__ = [
    "ERROR_TEXTS",
    "PROBE_JS",
    "TRANSIENT_ERROR_TEXTS",
    "Attachment",
    "POPage",
    "PageKind",
    "Trigger",
    "best_name_hint",
    "classify_page",
    "is_file_url",
    "probe_page",
]

ERROR_TEXTS: tuple[str, ...] = (
    "Oops! We couldn't find what you wanted",
    "We couldn't find what you wanted",
    "You are not authorized",
    "Access denied",
    "The page you were looking for doesn't exist",
    "The page you were looking for does not exist",
)
"""Texts of Coupa's "missing or forbidden" pages, matched case-insensitively inside error boxes and headings.
Add a tenant's localised texts here."""

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

PROBE_JS = r"""
const marker = arguments[0];
window.__coupadlMarker = marker;
const clip = (s, n) => (s || '').replace(/\s+/g, ' ').trim().slice(0, n || 400);
const text = el => clip(el.textContent);
const abs = v => { try { return v ? new URL(v, document.baseURI).href : ''; } catch (e) { return ''; } };
const out = {url: location.href, title: clip(document.title), status: 0,
             password: false, errors: [], headings: [], suppliers: [], items: [], requisitions: []};
try {
  const nav = performance.getEntriesByType('navigation')[0];
  out.status = (nav && nav.responseStatus) || 0;
} catch (e) {}
out.body = document.body ? document.body.textContent.trim().length : 0;
out.password = !!document.querySelector(__SIGNIN_FORM_SELECTOR__);
document.querySelectorAll(
  'div.flash_error, #error_explanation, .flash_error, #flash_error, .flash.error, .alert-danger, ' +
  '.error-page, .error_page'
).forEach(el => out.errors.push(text(el)));
document.querySelectorAll('h1').forEach(el => out.headings.push(text(el)));
document.querySelectorAll('[data-supplier-name], [class*="supplier-name"], [class*="supplier_name"]')
.forEach(el =>
  out.suppliers.push({attr: clip(el.getAttribute('data-supplier-name') || ''), text: text(el)}));
let n = 0;
const seen = new Set();
const elementOf = [];
const add = (el, clickEl, kind, url) => {
  if (!url || n >= 500) return;
  const target = clickEl || el;
  const ref = String(n++);
  elementOf.push(target);
  if (!target.hasAttribute('data-coupadl-ref')) target.setAttribute('data-coupadl-ref', ref);
  seen.add(el);
  out.items.push({
    ref: target.getAttribute('data-coupadl-ref'), order: elementOf.length - 1, kind: kind, url: url,
    title: clip(target.getAttribute('title') || el.getAttribute('title') || ''),
    aria: clip(target.getAttribute('aria-label') || el.getAttribute('aria-label') || ''),
    download: el.hasAttribute('download') ? clip(el.getAttribute('download') || '') : null,
    label: text(target),
  });
};
document.querySelectorAll('span.attachment-file[data-url], .attachment-file[data-url]').forEach(el => {
  if (seen.has(el)) return;
  add(el, el.querySelector('[role=button]'), 'button', abs(el.getAttribute('data-url')));
});
// A button whose file URL is nowhere in the page (its script builds it on click): only a click downloads it.
document.querySelectorAll('.attachment-file:not([data-url]) [role=button]').forEach(el => {
  add(el, null, 'click_only', 'about:click');
});
document.querySelectorAll('a[href]').forEach(a => {
  const href = a.getAttribute('href') || '';
  if (a.hasAttribute('download') || /attachment|download|filename=/i.test(href)) {
    add(a, null, 'anchor', a.href);
  }
});
document.querySelectorAll('[data-url], [data-download-url]').forEach(el => {
  if (seen.has(el) || el.matches('.attachment-file')) return;
  add(el, null, 'data_url', abs(el.getAttribute('data-download-url') || el.getAttribute('data-url')));
});
// One pass per form finds them out of page order; the page's order is what an operator sees.
out.items.sort((x, y) => {
  const a = elementOf[x.order], b = elementOf[y.order];
  return a === b ? 0 : (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1);
});
document.querySelectorAll('a[href*="/requisition_headers/"]').forEach(a => out.requisitions.push(a.href));
return out;
""".replace("__SIGNIN_FORM_SELECTOR__", json.dumps(SIGNIN_FORM_SELECTOR))
"""Run with one argument, a marker string; returns the raw facts `classify_page` judges."""


class PageKind(StrEnum):
    """What a loaded page turned out to be."""

    CONTENT = "content"  # the PO (or requisition) itself
    NOT_FOUND = "not_found"  # Coupa's "missing or forbidden" page
    SERVER_ERROR = "server_error"  # a 5xx or "something went wrong" page: retry
    UNRECOGNISED = "unrecognised"  # an empty page (blank, half-loaded, no body): retry


class Trigger(StrEnum):
    """How an attachment's download is started inside the page."""

    CLICK = "click"  # click the page's own button (its script downloads)
    LINK = "link"  # click a temporary `<a download href=url>`


@dataclass(frozen=True)
class Attachment:
    """One file to download from a page.

    Attributes:
        key: The absolute file URL (fragment dropped); stable across runs, used for the "already saved" map.
        url: The file URL (same as `key`); empty for a button whose URL only a click reveals (then `key` is
            the page URL with `#click-only-<n>`).
        name_hint: The best guess of the file's name from the page, for logs and messages; the saved name is
            the one the server sends.
        trigger: How to start the download.
        ref: Value of the `data-coupadl-ref` attribute of the element to click (for `CLICK`).
        form: Which markup form it was found in (`button`, `anchor`, `data_url`).
    """

    key: str
    url: str
    name_hint: str
    trigger: Trigger
    ref: str
    form: str


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

    @property
    def is_error(self) -> bool:
        """True for Coupa's missing-or-forbidden page."""
        return self.kind is PageKind.NOT_FOUND

    def attachment(self, key: str) -> Attachment | None:
        """The attachment with this key, if the page shows it."""
        return next((a for a in self.attachments if a.key == key), None)


# --- URLs ---------------------------------------------------------------------------------------------------

_SHOW_ROUTE = re.compile(r"/attachments/\d+/?$", re.IGNORECASE)
_ORDER_ID = re.compile(r"/order_headers/(\d+)(?:/|$)", re.IGNORECASE)
_REQUISITION = re.compile(r"^(/requisition_headers/\d+)(?:/|$)", re.IGNORECASE)
_HELP_PATH = re.compile(r"/(help|support|docs?|documentation)(/|$)", re.IGNORECASE)
_STRONG_FILE_PATH = re.compile(r"/attachment_files?/", re.IGNORECASE)
_ATTACHMENT_DOWNLOAD = re.compile(r"/attachments?/.*download|download.*/attachments?/", re.IGNORECASE)


def _normal_url(url: str) -> str:
    parsed = urlparse(url.strip())
    return urlunparse(parsed._replace(fragment=""))


def is_file_url(url: str, page_url: str, *, po_digits: str = "", explicit_download: bool = False) -> bool:
    """Whether `url` serves an attachment's bytes (and not a show page, a help page or another order).

    Args:
        url: An absolute URL found on the page.
        page_url: The page's address (its host is the tenant).
        po_digits: The PO being processed; file links under another `/order_headers/<id>` are ignored.
        explicit_download: The link carries a `download` attribute.

    Returns:
        True for Coupa's file routes: `.../attachment_file/...` (any host), and on the tenant's host
        `/attachments/...download`, `?filename=` links, or `a[download]` links that are not show routes.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False
    path = unquote(parsed.path)
    other_order = _ORDER_ID.search(path)
    if other_order and po_digits and other_order.group(1) != po_digits:
        return False
    if _STRONG_FILE_PATH.search(path):
        return True
    if parsed.hostname != urlparse(page_url).hostname or _HELP_PATH.search(path):
        return False
    query = parse_qs(parsed.query)
    if any(v.strip() for v in query.get("filename", [])):
        return True
    if _SHOW_ROUTE.search(path):
        return False
    if _ATTACHMENT_DOWNLOAD.search(path) or ("/attachments/" in path.lower() and "download" in query):
        return True
    return explicit_download and path.rstrip("/") not in ("", "/")


# --- names -----------------------------------------------------------------------------------------------

_NOISE_RUN = re.compile(r"([^\w\s])\1{3,}")
_HAS_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_ARIA_SUFFIX = re.compile(r"\s+(file\s+)?attachment$", re.IGNORECASE)
_MAX_HINT = 255


def _plausible(name: str) -> bool:
    return 0 < len(name) <= _MAX_HINT and not _NOISE_RUN.search(name)


def best_name_hint(
    *, title: str = "", aria: str = "", download: str | None = None, url: str = "", label: str = ""
) -> str:
    """The most trustworthy file name a page offers for an attachment.

    Order of trust: `title`, `aria-label` (without a trailing "file attachment"), the `download` attribute,
    the URL's `filename` parameter, the URL's last path segment, then the visible label. Visible text is last
    because it may be a message or a `====` separator instead of a name. A candidate with an extension wins
    over one without.

    Returns:
        The chosen name, or an empty string when the page offers nothing usable.
    """
    parsed = urlparse(url)
    from_query = next(iter(parse_qs(parsed.query).get("filename", [])), "")
    segment = unquote(parsed.path.rstrip("/").rsplit("/", 1)[-1]) if parsed.path else ""
    candidates = [
        title.strip(),
        _ARIA_SUFFIX.sub("", aria.strip()),
        (download or "").strip(),
        from_query.strip(),
        segment.strip(),
        label.strip(),
    ]
    usable = [c for c in candidates if _plausible(c)]
    with_extension = [c for c in usable if _HAS_EXTENSION.search(c)]
    return (with_extension or usable or [""])[0]


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


def _attachments(raw: Mapping[str, Any], page_url: str, po_digits: str) -> tuple[Attachment, ...]:
    found: dict[str, dict[str, Any]] = {}
    click_only = 0
    for item in raw.get("items") or []:
        if not isinstance(item, Mapping):
            continue
        url = _normal_url(str(item.get("url") or ""))
        kind = str(item.get("kind") or "")
        if kind == "click_only" and item.get("ref"):
            # No URL to key it by: the page and its place among such buttons are stable across runs.
            click_only += 1
            hint = best_name_hint(
                title=str(item.get("title") or ""),
                aria=str(item.get("aria") or ""),
                label=str(item.get("label") or ""),
            )
            key = f"{_normal_url(page_url)}#click-only-{click_only}"
            found[key] = {"hint": hint, "click": True, "ref": str(item["ref"]), "form": kind, "url": ""}
            continue
        explicit = kind == "anchor" and item.get("download") is not None
        if not url or not is_file_url(url, page_url, po_digits=po_digits, explicit_download=explicit):
            continue
        hint = best_name_hint(
            title=str(item.get("title") or ""),
            aria=str(item.get("aria") or ""),
            download=item.get("download") if isinstance(item.get("download"), str) else None,
            url=url,
            label=str(item.get("label") or ""),
        )
        clickable = kind == "button" and bool(item.get("ref"))
        entry = found.get(url)
        if entry is None:
            found[url] = {"hint": hint, "click": clickable, "ref": str(item.get("ref") or ""), "form": kind}
            continue
        # The same file in another form: a URL we can open ourselves beats the page's script, and a name
        # with an extension beats one without.
        if entry["click"] and not clickable:
            entry.update(click=False, ref=str(item.get("ref") or ""), form=kind)
        if not _HAS_EXTENSION.search(entry["hint"]) and _HAS_EXTENSION.search(hint):
            entry["hint"] = hint
    return tuple(
        Attachment(
            key=url,
            url=entry.get("url", url),
            name_hint=entry["hint"],
            trigger=Trigger.CLICK if entry["click"] else Trigger.LINK,
            ref=entry["ref"],
            form=entry["form"],
        )
        for url, entry in found.items()
    )


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


def classify_page(
    raw: Mapping[str, Any],
    *,
    po_digits: str = "",
    marker: str = "",
    error_texts: Sequence[str] = ERROR_TEXTS,
) -> POPage:
    """Judge the raw facts `PROBE_JS` returned.

    Args:
        raw: The probe's result.
        po_digits: The PO being processed (links to files of other orders are ignored).
        marker: The marker passed to the probe.
        error_texts: Texts of "missing or forbidden" pages (defaults to `ERROR_TEXTS`).

    Returns:
        The page as a `POPage`. A page with a known error text in an error box or heading is `NOT_FOUND`
        unless it also shows PO content (then the message belongs to something else on the page); an HTTP
        5xx or a "something went wrong" heading is `SERVER_ERROR`; an empty page is `UNRECOGNISED`.
    """
    url = str(raw.get("url") or "")
    status = raw.get("status")
    http_status = status if isinstance(status, int) else 0
    supplier = _supplier(raw)
    attachments = _attachments(raw, url, po_digits)
    requisitions = _requisitions(raw, url)
    errors, headings = _texts(raw, "errors"), _texts(raw, "headings")
    has_content = bool(supplier or attachments)
    kind = PageKind.CONTENT
    known = _matched_error(errors + headings, error_texts)
    transient = _matched_error(headings + errors, TRANSIENT_ERROR_TEXTS)
    heading = next((h for h in headings if _ERROR_HEADING.search(h)), "")
    error = known or transient or heading
    body = raw.get("body")
    if http_status >= 500 or (transient and not known and not has_content):
        kind, error = PageKind.SERVER_ERROR, transient or f"HTTP {http_status}"
    elif error and not has_content:
        kind = PageKind.NOT_FOUND
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
    )


def probe_page(tab: Any, *, po_digits: str = "", marker: str = "") -> POPage:
    """Run `PROBE_JS` in `tab` (one round trip) and judge the result.

    Args:
        tab: A `coupadl.browser.session.Tab` showing the page.
        po_digits: The PO being processed.
        marker: A string left in the page to notice later whether the tab navigated away.

    Returns:
        The judged page.
    """
    raw = tab.run_js(PROBE_JS, marker)
    if not isinstance(raw, Mapping):
        raw = {}
    return classify_page(raw, po_digits=po_digits, marker=marker)
