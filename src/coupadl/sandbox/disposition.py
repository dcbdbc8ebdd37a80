"""`Content-Disposition` as Rails (and so Coupa) sends it: an ASCII `filename=` plus RFC 5987 `filename*=`."""

from __future__ import annotations

import mimetypes
import unicodedata
from urllib.parse import quote

__all__ = ["ascii_fallback", "content_disposition", "content_type"]

# RFC 5987 attr-char minus ALPHA / DIGIT, which `quote` keeps anyway.
_ATTR_CHARS = "!#$&+-.^_`|~"


def ascii_fallback(name: str) -> str:
    """The name for old clients: accents stripped, other non-ASCII and quoting characters replaced by `_`.

    `/` and `..` are left in on purpose: the client must make the name safe, not the server.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    out = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        out.append(ch if " " <= ch <= "~" and ch not in '"\\' else "_")
    return "".join(out) or "download"


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """Header value naming the file `name` (any Unicode)."""
    encoded = quote(name, safe=_ATTR_CHARS)
    return f"{disposition}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


def content_type(name: str) -> str:
    """MIME type guessed from the name's extension (octet-stream when unknown)."""
    guessed, _ = mimetypes.guess_type(name.replace("\\", "/").rsplit("/", 1)[-1], strict=False)
    return guessed or "application/octet-stream"
