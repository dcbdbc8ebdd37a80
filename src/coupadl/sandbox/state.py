"""Per-instance, thread-safe state of a sandbox site: request log, views, revocations, failure counts."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from coupadl.sandbox.tokens import SessionToken

__all__ = ["RequestRecord", "SiteState"]


@dataclass(frozen=True)
class RequestRecord:
    """One request as the site saw it. `session` is a hash of the session id, never the cookie value.

    Attributes:
        method: HTTP method.
        host: Host header (shows the SSO hop on its own host name).
        path: URL path, without the query.
        query: Raw query string.
        status: Response status code.
        session: Hash of the signed-in session id, or None when signed out.
        at: Unix time the request arrived.
    """

    method: str
    host: str
    path: str
    query: str
    status: int
    session: str | None
    at: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


class SiteState:
    """What one server instance remembers; every method is safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._views: dict[str, int] = {}
        self._revoked: set[str] = set()
        self._revoked_before_ms = 0
        self._file_hits: dict[int, int] = {}
        self._page_hits: dict[str, int] = {}

    # --- sessions ---------------------------------------------------------------------------------

    def is_revoked(self, session: SessionToken) -> bool:
        """True if this instance signed the session out."""
        with self._lock:
            return session.sid in self._revoked or session.issued_ms <= self._revoked_before_ms

    def count_view(self, session: SessionToken, limit: int | None) -> bool:
        """Count one page view; False (and the session is revoked) once `limit` views were already served."""
        with self._lock:
            seen = self._views.get(session.sid, 0)
            if limit is not None and seen >= limit:
                self._revoked.add(session.sid)
                return False
            self._views[session.sid] = seen + 1
            return True

    def expire_all_sessions(self) -> None:
        """Sign out every session issued so far (on this instance only)."""
        with self._lock:
            self._revoked_before_ms = int(time.time() * 1000)

    # --- files ------------------------------------------------------------------------------------

    def file_hit(self, attachment_id: int) -> int:
        """Count a request of a file route; returns how many came before this one."""
        with self._lock:
            before = self._file_hits.get(attachment_id, 0)
            self._file_hits[attachment_id] = before + 1
            return before

    def page_hit(self, key: str) -> int:
        """Count a request of a page (e.g. a PO page that throttles); returns how many came before it."""
        with self._lock:
            before = self._page_hits.get(key, 0)
            self._page_hits[key] = before + 1
            return before

    # --- request log ------------------------------------------------------------------------------

    def record(self, record: RequestRecord) -> None:
        """Append to the request log."""
        with self._lock:
            self._log.append(record)

    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)
