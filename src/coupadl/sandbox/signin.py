"""Sign a browser profile in to a sandbox without typing, the way every later window will find it.

The browser is started with `coupadl.browser.launcher.start_driver` (the same switches as every window, so
cookie encryption agrees) and quit cleanly: a running browser writes cookies to disk only every ~30 s, a
clean quit writes them at once. The Cookies database is then checked for the session row.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

from coupadl.browser.launcher import LaunchConfig, start_driver
from coupadl.browser.translate import SeleniumError, translate
from coupadl.errors import AuthenticationFailedException
from coupadl.profiles.checksums import find_cookie_db, open_sqlite_readonly
from coupadl.sandbox.app import SESSION_COOKIE

__all__ = ["cookie_db_path", "has_session_cookie", "sign_in_profile"]

_HOME = "/user/home"
_HOME_MARKER_JS = "return !!document.getElementById('user_home');"


def cookie_db_path(user_data_dir: Path, profile_name: str = "Default") -> Path | None:
    """The profile's Cookies database (`Network/Cookies` or, on some builds, `Cookies`), if it exists."""
    return find_cookie_db(user_data_dir / profile_name)


def has_session_cookie(user_data_dir: Path, host: str, profile_name: str = "Default") -> bool:
    """True if the profile's Cookies database on disk holds the sandbox session cookie for `host`."""
    db = cookie_db_path(user_data_dir, profile_name)
    if db is None:
        return False
    try:
        with open_sqlite_readonly(db) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM cookies WHERE name = ? AND host_key = ?", (SESSION_COOKIE, host)
            ).fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0])


def sign_in_profile(
    launch_config: LaunchConfig,
    user_data_dir: Path,
    base_url: str,
    profile_name: str = "Default",
    *,
    flush_timeout_s: float = 5.0,
) -> Path:
    """Sign `user_data_dir/profile_name` in to the sandbox at `base_url` and prove it on disk.

    Args:
        launch_config: How windows are launched (the profile must be made with the same switches).
        user_data_dir: The browser user-data-dir; created if missing. Keep its path short.
        base_url: The sandbox, e.g. `http://127.0.0.1:PORT`.
        profile_name: Profile folder inside the user-data-dir.
        flush_timeout_s: How long to wait for the cookie row after the browser quit.

    Returns:
        The Cookies database holding the session.

    Raises:
        AuthenticationFailedException: `/user/home` was not reached without a redirect, or the cookie never
            reached the disk.
        BrowserStartError: The browser did not start.
    """
    base = base_url.rstrip("/")
    home = base + _HOME
    user_data_dir.mkdir(parents=True, exist_ok=True)
    driver = start_driver(launch_config, user_data_dir, profile_name)
    try:
        driver.get(f"{base}/sandbox/autologin?next={_HOME}")
        driver.get(home)
        landed, on_home = driver.current_url, bool(driver.execute_script(_HOME_MARKER_JS))
        # The profile's last session then points nowhere: a browser restoring it later would otherwise reload
        # /user/home on whichever later sandbox got this port (ports are reused), a request no test expects.
        driver.get("about:blank")
    except SeleniumError as exc:
        raise translate(exc, "signing the profile in to the sandbox") from exc
    finally:
        driver.quit()  # a clean quit writes the cookie to disk at once
    if landed != home or not on_home:
        raise AuthenticationFailedException(f"signing in to {base} failed: {home} ended on {landed}")
    host = urlsplit(base).hostname or ""
    deadline = time.monotonic() + flush_timeout_s
    while not has_session_cookie(user_data_dir, host, profile_name):
        if time.monotonic() > deadline:
            raise AuthenticationFailedException(
                f"signed in to {base} but the session cookie is not in the Cookies database of "
                f"{user_data_dir / profile_name} after the browser quit"
            )
        time.sleep(0.1)
    db = cookie_db_path(user_data_dir, profile_name)
    assert db is not None
    return db
