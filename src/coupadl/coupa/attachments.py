"""Which links and buttons on a page are attachments, and what they are called.

Attachments come in several forms on real Coupa pages:

- `li.attachment > span.attachment-file[data-url] > span[role=button][title]`: the inner `data-url` is the
  file, the outer `li`'s `/attachments/<id>` is only the "show" route; the button downloads through script.
- anchors: `a[href*='/attachments/'][href*='download']`, `a[download]`, links with `?filename=`;
- `data-url` on other elements pointing at a file route;
- buttons whose URL only a click reveals.

The same file shown in two forms is one attachment, keyed by its absolute URL (`page_attachments`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse, urlunparse

__all__ = ["Attachment", "Trigger", "best_name_hint", "is_file_url", "page_attachments"]


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


# --- URLs ---------------------------------------------------------------------------------------------------

_SHOW_ROUTE = re.compile(r"/attachments/\d+/?$", re.IGNORECASE)
_ORDER_ID = re.compile(r"/order_headers/(\d+)(?:/|$)", re.IGNORECASE)
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


# --- the attachments of a page ----------------------------------------------------------------------------


def page_attachments(raw: Mapping[str, Any], page_url: str, po_digits: str) -> tuple[Attachment, ...]:
    """The attachments among the candidates the page script gathered (`raw["items"]`), in page order."""
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
