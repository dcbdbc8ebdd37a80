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
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlparse, urlunparse

from coupadl.browser.signin import SIGNIN_FORM_SELECTOR
from coupadl.settings import DEFAULT_LOADING_TEXTS, DEFAULT_PAGE_ERROR_TEXTS

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
    "probe_page",
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

_GATHER_JS = r"""
const coupadlGather = (marker) => {
window.__coupadlMarker = marker;
const clip = (s, n) => (s || '').replace(/\s+/g, ' ').trim().slice(0, n || 400);
const text = el => clip(el.textContent);
const abs = v => { try { return v ? new URL(v, document.baseURI).href : ''; } catch (e) { return ''; } };
const out = {url: location.href, title: clip(document.title), status: 0, ready: document.readyState,
             password: false, errors: [], headings: [], numbers: [], suppliers: [], items: [],
             requisitions: []};
try {
  const nav = performance.getEntriesByType('navigation')[0];
  out.status = (nav && nav.responseStatus) || 0;
} catch (e) {}
out.body = document.body ? document.body.textContent.trim().length : 0;
out.password = !!document.querySelector(__SIGNIN_FORM_SELECTOR__);
document.querySelectorAll(
  'div.flash_error, #error_explanation, .flash_error, #flash_error, .flash.error, .alert-danger, ' +
  'div.notice, .error-page, .error_page'
).forEach(el => out.errors.push(text(el)));
document.querySelectorAll('h1').forEach(el => out.headings.push(text(el)));
document.querySelectorAll('[data-po-number], [data-requisition-number]').forEach(el =>
  out.numbers.push(clip(el.getAttribute('data-po-number') || el.getAttribute('data-requisition-number'))));
document.querySelectorAll('[data-supplier-name], [class*="supplier-name"], [class*="supplier_name"]')
.forEach(el =>
  out.suppliers.push({attr: clip(el.getAttribute('data-supplier-name') || ''), text: text(el)}));
// Refs are numbered page-wide, so an element found on a later call never takes an earlier one's ref.
window.__coupadlNextRef = window.__coupadlNextRef || 0;
let n = 0;
const seen = new Set();
const elementOf = [];
const add = (el, clickEl, kind, url) => {
  if (!url || n >= 500) return;
  n++;
  const target = clickEl || el;
  elementOf.push(target);
  if (!target.hasAttribute('data-coupadl-ref')) {
    target.setAttribute('data-coupadl-ref', String(window.__coupadlNextRef++));
  }
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
// A button labelled "... file attachment" whose URL sits on an ancestor (up to 4 levels up).
const URL_ATTRS = ['data-url', 'data-href', 'href', 'data-download-url'];
const fromOnclick = v => {
  const m = /['"]((?:https?:\/\/|\/)[^'"]+)['"]/.exec(v || '');
  return m ? m[1] : '';
};
document.querySelectorAll('span[role=button][aria-label]').forEach(button => {
  if (!/file\s+attachment\s*$/i.test(button.getAttribute('aria-label') || '')) return;
  if (button.closest('.attachment-file[data-url]')) return;
  let el = button;
  for (let up = 0; up <= 4 && el && el !== document.body; up++, el = el.parentElement) {
    if (seen.has(el)) return;
    const attr = URL_ATTRS.find(a => el.getAttribute(a));
    const url = attr ? el.getAttribute(attr) : fromOnclick(el.getAttribute('onclick'));
    if (url) { add(el, button, 'button', abs(url)); return; }
  }
});
document.querySelectorAll('a[href]').forEach(a => {
  if (seen.has(a)) return;
  const href = a.getAttribute('href') || '';
  if (a.hasAttribute('download') ||
      /attachment|download|[?&](file|name|filename)=|disposition=attachment/i.test(href)) {
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
};
""".replace("__SIGNIN_FORM_SELECTOR__", json.dumps(SIGNIN_FORM_SELECTOR))

PROBE_JS = _GATHER_JS + "return coupadlGather(arguments[0]);"
"""Run with one argument, a marker string; returns the raw facts `classify_page` judges (no waiting)."""

SETTLE_JS = (
    _GATHER_JS
    + r"""
const [marker, quietMs, timeoutMs, loadingTexts, areaSelector, done] = arguments;
const t0 = performance.now();
// Kept on the page, so a second call knows since when the candidates have not changed.
const st = window.__coupadlSettle || (window.__coupadlSettle = {sig: null, since: t0});
const lowered = loadingTexts.map(t => t.toLowerCase());
const loadingNow = () => {
  const reasons = [];
  // Attachment areas, never the whole page (a container holding the page's h1 is not one), outermost
  // only (one reason per area).
  const found = new Set([...document.querySelectorAll(areaSelector)].filter(el =>
    el !== document.body && el !== document.documentElement && !el.querySelector('h1')));
  const areas = [...found].filter(el => {
    for (let up = el.parentElement; up; up = up.parentElement) { if (found.has(up)) return false; }
    return true;
  });
  areas.forEach(area => {
    if (reasons.length >= 3) return;
    const name = area.id ? '#' + area.id : area.tagName.toLowerCase() +
      (area.classList.length ? '.' + area.classList[0] : '');
    const busy = area.closest('[aria-busy="true"]') || area.querySelector('[aria-busy="true"]');
    if (busy) { reasons.push('aria-busy on ' + name); return; }
    if (area.querySelector('.spinner, .loading, [class*="spinner"], [role=progressbar]')) {
      reasons.push('a spinner in ' + name); return;
    }
    for (const el of area.querySelectorAll('*')) {
      // A file's own name ("Loading dock.jpg") is not a loading sign.
      if (el.children.length || el.closest('a, [role=button], [data-coupadl-ref], [data-url]')) continue;
      const t = (el.textContent || '').trim().toLowerCase();
      if (t && t.length <= 80 && lowered.some(w => t.startsWith(w))) {
        reasons.push("'" + el.textContent.trim().slice(0, 40) + "' in " + name); return;
      }
    }
  });
  return reasons;
};
const finish = (settled, facts, loading, quiet) => {
  facts.settle = {settled: settled, loading: loading, quiet_ms: Math.round(quiet),
                  waited_ms: Math.round(performance.now() - t0)};
  done(facts);
};
const tick = () => {
  let facts;
  try { facts = coupadlGather(marker); } catch (e) { done({error: String(e)}); return; }
  const now = performance.now();
  const sig = facts.items.map(i => i.url).sort().join('\n');
  if (sig !== st.sig) { st.sig = sig; st.since = now; }
  const loading = loadingNow();
  const quiet = now - st.since;
  if (facts.ready === 'complete' && !loading.length && quiet >= quietMs) {
    finish(true, facts, loading, quiet); return;
  }
  if (now - t0 >= timeoutMs) { finish(false, facts, loading, quiet); return; }
  setTimeout(tick, 100);
};
tick();
"""
)
"""Asynchronous: arguments marker, quiet time (ms), time-out (ms), loading texts, attachment-area selector.
Waits until the document is complete, no attachment area shows a loading sign (`aria-busy`, a spinner, a
loading text) and the set of attachment candidates has not changed for the quiet time, or the time-out
passed; returns the same facts as `PROBE_JS` plus `settle: {settled, loading, quiet_ms, waited_ms}`."""

ATTACHMENT_AREA_SELECTOR = (
    '#attachments, [id*="attachment" i], [class*="attachment" i], [data-section*="attachment" i]'
)
"""Where attachments are listed (and so where a loading sign means the list is not complete yet)."""

RETRY_AFTER_JS = r"""
const done = arguments[arguments.length - 1];
fetch(location.href, {method: 'HEAD', credentials: 'include', cache: 'no-store', redirect: 'manual'})
  .then(r => done({status: r.status, retry_after: r.headers.get('Retry-After') || ''}))
  .catch(e => done({status: 0, retry_after: '', error: String(e)}));
"""
"""Asynchronous: a page script cannot read the navigation's headers, so one HEAD request of the same address
reads `Retry-After` (on a throttled site it answers 429 again, with the current wait)."""


class PageKind(StrEnum):
    """What a loaded page turned out to be."""

    CONTENT = "content"  # the PO (or requisition) itself
    NOT_FOUND = "not_found"  # Coupa's "missing or forbidden" page, or HTTP 404 / 403
    WRONG_PAGE = "wrong_page"  # landed elsewhere (home, another record) or an unexpected status: fail
    THROTTLED = "throttled"  # HTTP 429: wait, then try again without spending an attempt
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


# --- URLs ---------------------------------------------------------------------------------------------------

_SHOW_ROUTE = re.compile(r"/attachments/\d+/?$", re.IGNORECASE)
_ORDER_ID = re.compile(r"/order_headers/(\d+)(?:/|$)", re.IGNORECASE)
_REQUISITION = re.compile(r"^(/requisition_headers/\d+)(?:/|$)", re.IGNORECASE)
_HELP_PATH = re.compile(r"/(help|support|docs?|documentation)(/|$)", re.IGNORECASE)
_STRONG_FILE_PATH = re.compile(r"/attachment_files?/", re.IGNORECASE)
_ATTACHMENT_DOWNLOAD = re.compile(r"/attachments?/.*download|download.*/attachments?/", re.IGNORECASE)
_RECORD_PAGE = re.compile(r"/(order|requisition)_headers/\d+", re.IGNORECASE)
_FILE_QUERY_KEYS = ("file", "name", "filename")
_FILEISH_PATH = re.compile(r"attach|file|download|document", re.IGNORECASE)


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
        `/attachments/...download`, `?filename=` links, links carrying `?file=` / `?name=` or asking for
        `disposition=attachment`, or `a[download]` links that are not show routes. A record's own pages
        (`/order_headers/<id>/print`, a PDF summary) are not attachments.
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
    query = {k.lower(): v for k, v in parse_qs(parsed.query).items()}
    wants_attachment = any(
        k.endswith("disposition") and any(v.strip().lower().startswith("attachment") for v in values)
        for k, values in query.items()
    )
    if wants_attachment and not _RECORD_PAGE.search(path):
        return True  # e.g. a signed storage URL (`response-content-disposition=attachment`), any host
    if parsed.hostname != urlparse(page_url).hostname or _HELP_PATH.search(path):
        return False
    if _RECORD_PAGE.search(path) and "/attachment" not in path.lower():
        return False  # the PO's (or another record's) own page or printable summary
    if any(v.strip() for v in query.get("filename", [])):
        return True
    if _SHOW_ROUTE.search(path):
        return False
    if _ATTACHMENT_DOWNLOAD.search(path) or ("/attachments/" in path.lower() and "download" in query):
        return True
    names = [v.strip() for key in _FILE_QUERY_KEYS for v in query.get(key, []) if v.strip()]
    if names and (_FILEISH_PATH.search(path) or any(_HAS_EXTENSION.search(n) for n in names)):
        return True  # `?file=quote.pdf`, `/documents/get?name=...`; not `/suppliers?name=Acme`
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


def _wrong_place(raw: Mapping[str, Any], url: str, expected: Expected | None, status: int) -> str:
    """Why this is not the asked-for page (empty when it is)."""
    if expected is None:
        return ""
    if not _same_path(url, expected.url):
        parsed = urlparse(url)
        where = parsed.path or url
        if parsed.hostname != urlparse(expected.url).hostname:
            where = f"{parsed.scheme}://{parsed.netloc}{parsed.path}" if parsed.netloc else url
        return f"landed on {where}, not {expected.what}"
    if status and not 200 <= status < 300:
        return f"HTTP {status}"
    shown = _shown_numbers(raw)
    if shown and expected.number not in shown:
        return f"the page shows {', '.join(f'#{n}' for n in shown[:3])}, not {expected.what}"
    return ""


def classify_page(
    raw: Mapping[str, Any],
    *,
    po_digits: str = "",
    marker: str = "",
    error_texts: Sequence[str] = ERROR_TEXTS,
    expected: Expected | None = None,
) -> POPage:
    """Judge the raw facts `PROBE_JS` (or `SETTLE_JS`) returned; where the browser landed decides first.

    Args:
        raw: The probe's result.
        po_digits: The PO being processed (links to files of other orders are ignored).
        marker: The marker passed to the probe.
        error_texts: Texts of "missing or forbidden" pages (defaults to `ERROR_TEXTS`).
        expected: The page asked for; without it, where the browser landed is not checked.

    Returns:
        The page as a `POPage`, in this order of evidence: HTTP 429 is `THROTTLED`; HTTP 5xx or a "something
        went wrong" heading is `SERVER_ERROR`; HTTP 404 / 403, or a known error text in an error box or
        heading (unless the page also shows PO content: then the message belongs to something else on it),
        is `NOT_FOUND`; another address than the one asked for, another status than 2xx, or another record
        number in the title or header is `WRONG_PAGE`; an empty page is `UNRECOGNISED`; else `CONTENT`.
        `error_text` names the evidence for every kind but `CONTENT`.
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
    wrong = _wrong_place(raw, url, expected, http_status)
    if http_status == 429:
        kind, error = PageKind.THROTTLED, "HTTP 429"
    elif http_status >= 500 or (transient and not known and not has_content):
        kind, error = PageKind.SERVER_ERROR, transient or f"HTTP {http_status}"
    elif http_status in (403, 404):
        kind, error = PageKind.NOT_FOUND, f"HTTP {http_status}"
    elif error and not has_content:
        kind = PageKind.NOT_FOUND
    elif wrong:
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


def probe_page(
    tab: Any,
    *,
    po_digits: str = "",
    marker: str = "",
    error_texts: Sequence[str] = ERROR_TEXTS,
    expected: Expected | None = None,
) -> POPage:
    """Run `PROBE_JS` in `tab` (one round trip, no waiting) and judge the result.

    Args:
        tab: A `coupadl.browser.session.Tab` showing the page.
        po_digits: The PO being processed.
        marker: A string left in the page to notice later whether the tab navigated away.
        error_texts: Texts of "missing or forbidden" pages.
        expected: The page asked for (see `classify_page`).

    Returns:
        The judged page.
    """
    raw = tab.run_js(PROBE_JS, marker)
    if not isinstance(raw, Mapping):
        raw = {}
    return classify_page(raw, po_digits=po_digits, marker=marker, error_texts=error_texts, expected=expected)


def settle_page(
    tab: Any,
    *,
    quiet: float,
    timeout: float,
    po_digits: str = "",
    marker: str = "",
    error_texts: Sequence[str] = ERROR_TEXTS,
    loading_texts: Sequence[str] = DEFAULT_LOADING_TEXTS,
    expected: Expected | None = None,
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


def settle_arguments(
    marker: str, quiet: float, timeout: float, loading_texts: Sequence[str]
) -> tuple[str, int, int, list[str], str]:
    """The arguments `SETTLE_JS` takes (before its callback), for `settle_page` or a tab's `open_async`."""
    return (marker, int(quiet * 1000), int(timeout * 1000), list(loading_texts), ATTACHMENT_AREA_SELECTOR)


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
