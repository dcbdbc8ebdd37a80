"""Session-only sign-in cookies in coupadl's own copies of the base: kept as persistent cookies.

Chromium loads a cookie without expiry (Rails' default sign-in cookie) only when it restores the last session,
and a restore with nothing to restore opens the new-tab page, whose remote content (the search engine's page)
stalls the whole browser for the DNS time-out where the network is closed (BENCHMARKS.md, "Verified
windows"). Clones carry no session tabs, so instead of restoring they start on `about:blank` and get their
session cookies as persistent ones: `persist_session_cookies` rewrites them so in the run's snapshot, which
every clone copies. The base is never written; window A restores the base's own last session.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from coupadl.log import get_logger
from coupadl.profiles.checksums import find_cookie_db

__all__ = ["SESSION_COOKIE_LIFETIME", "persist_session_cookies"]

SESSION_COOKIE_LIFETIME = timedelta(days=30)
"""How long a copied session cookie lives in a clone: longer than any run; the copy is removed with its
window, and the site's own session time-out still decides when the sign-in ends."""

# Chromium stores times as microseconds since 1601-01-01 UTC.
_WINDOWS_EPOCH_OFFSET_S = 11_644_473_600


def persist_session_cookies(user_data_dir: Path, profile_name: str) -> int:
    """Make every session-only cookie of this copy persistent (expiring `SESSION_COOKIE_LIFETIME` from now).

    Only the persistence flags and the expiry change; names, values (encrypted) and hosts stay as they are.

    Returns:
        How many cookies were changed (0 when the profile has no cookie database or no session cookie).
    """
    database = find_cookie_db(user_data_dir / profile_name)
    if database is None:
        return 0
    lifetime = SESSION_COOKIE_LIFETIME.total_seconds()
    expires = int((time.time() + _WINDOWS_EPOCH_OFFSET_S + lifetime) * 1_000_000)
    with closing(sqlite3.connect(database)) as db, db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(cookies)")}
        if not {"is_persistent", "has_expires", "expires_utc"} <= columns:
            get_logger(__name__).warning("session_cookies.unknown_schema", database=str(database))
            return 0
        changed = db.execute(
            "UPDATE cookies SET is_persistent = 1, has_expires = 1, expires_utc = ? WHERE is_persistent = 0",
            (expires,),
        ).rowcount
    return int(changed)
