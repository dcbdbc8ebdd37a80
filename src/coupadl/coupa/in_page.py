"""Download one attachment in the page: through the browser's own download, into the worker's staging folder.

The page's button is clicked for script-driven attachments, and for plain URLs a temporary
`<a download href=...>` is clicked, so that an error response becomes a failed download instead of navigating
the PO page away. The browser saves into the worker's private staging folder (`tab.download_dir`) under the
name the server sends. With `Browser.setDownloadBehavior allow` a second file of the same name would overwrite
the first, so these run strictly one after the other: wait until the new file is complete (no `.crdownload`
left, size stable), put it in the PO folder (`POFolder.place`), and leave the staging folder empty. After a
try in which no download started, the file is fetched in the page (`FETCH_JS`) and its blob saved instead.

A window on a Selenium Grid node downloads on the node, into the session's managed downloads
(`se:downloadsEnabled`); each finished file is copied from there into the staging folder and deleted on the
node, and from then on it is handled as a local download.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from tenacity import RetryCallState

from coupadl.browser.session import BrowserSession
from coupadl.browser.signin import signin_redirect
from coupadl.coupa.attachments import Attachment, Trigger
from coupadl.coupa.download_model import DownloadSettings, TryFailed
from coupadl.coupa.filenames import disposition_filename, safe_filename
from coupadl.coupa.http_batch import http_url
from coupadl.coupa.page import POPage
from coupadl.coupa.po import SavedFile
from coupadl.coupa.po_folder import POFolder
from coupadl.errors import SessionExpiredError
from coupadl.log import get_logger
from coupadl.retrying import backoff, tries

if TYPE_CHECKING:  # the Grid modules are imported for a Grid window only (see `_remote`)
    from coupadl.browser.remote import RemoteBrowserSession

__all__ = ["FETCH_JS", "PAGE_CHECK_JS", "PARTIAL_SUFFIXES", "SAVE_BLOB_JS", "TRIGGER_JS", "InPageDownloader"]

PARTIAL_SUFFIXES = (".crdownload", ".part", ".partial", ".download", ".tmp")
"""Names of files a browser is still writing (Chromium and Edge use `.crdownload`)."""

TRIGGER_JS = r"""
const [marker, mode, ref, url] = arguments;
if (window.__coupadlMarker !== marker) return 'stale';
if (mode === 'click') {
  const el = document.querySelector('[data-coupadl-ref="' + ref + '"]');
  if (!el) return 'missing';
  el.click();
  return 'ok';
}
const a = document.createElement('a');
a.href = url;
a.rel = 'noopener';
if (a.origin === location.origin) { a.setAttribute('download', ''); } else { a.target = '_blank'; }
a.style.display = 'none';
document.body.appendChild(a);
a.click();
a.remove();
return 'ok';
"""
"""Arguments: page marker, `click` or `link`, element ref, URL. Returns `ok`, `stale` (the tab left the probed
page) or `missing` (the element is gone). A cross-origin link opens in a new tab: the `download` attribute
does not apply there, and the PO page must stay where it is."""

FETCH_JS = r"""
const [marker, url, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
if (window.__coupadlMarker !== marker) { done({state: 'stale'}); return; }
fetch(url, {credentials: 'include', redirect: 'follow'}).then(async (r) => {
  if (!r.ok) { done({state: 'http', status: r.status, url: r.url}); return; }
  const blob = await r.blob();
  if (window.__coupadlBlob) URL.revokeObjectURL(window.__coupadlBlob);
  window.__coupadlBlob = URL.createObjectURL(blob);
  done({state: 'ok', status: r.status, url: r.url, size: blob.size,
        disposition: r.headers.get('content-disposition') || ''});
}).catch((e) => done({state: 'error', message: String(e)}));
"""
"""Arguments: page marker, URL. Fetches the file with the page's cookies into a blob kept in the page; returns
its status, final URL and `Content-Disposition`. Used after a try in which no download started: the status
says at once whether the server failed, and the blob can be saved under a name the browser accepts."""

SAVE_BLOB_JS = r"""
const a = document.createElement('a');
a.href = window.__coupadlBlob;
a.download = arguments[0];
a.style.display = 'none';
document.body.appendChild(a);
a.click();
a.remove();
"""
"""Argument: the file name. Saves the blob `FETCH_JS` kept; blob URLs take the `download` name as given."""

_REVOKE_BLOB_JS = (
    "if (window.__coupadlBlob) { URL.revokeObjectURL(window.__coupadlBlob); window.__coupadlBlob = null; }"
)

PAGE_CHECK_JS = "return [window.__coupadlMarker === arguments[0], location.href];"
"""Argument: the page marker. Returns [whether the tab still shows the probed page, its address]."""

# Chromium writes `<name>.crdownload` first, so a name longer than 255 - 11 bytes fails on Linux.
_BLOB_NAME_BYTES = 200

_CONFIRM_INTERVAL = 0.005


_TEMP_NAME = re.compile(r"^\.?(org\.chromium\.Chromium|com\.google\.Chrome|com\.microsoft\.Edge)\.", re.I)
"""A temporary file a Chromium-family browser writes before the download's name is decided."""


def _is_partial(name: str) -> bool:
    return name.lower().endswith(PARTIAL_SUFFIXES)


class InPageDownloader:
    """Downloads attachments through the tab's browser, one at a time, into a `POFolder`.

    Args:
        tab: The task's `coupadl.browser.session.Tab` (its `download_dir` is the staging folder).
        folder: Where finished files are put.
        settings: Timeouts and retries.
        reload: Opens the page again after the tab navigated away and returns the freshly probed page.
        check_machine: Called after a try failed (before any retry); raises `MachineFaultError` when the
            disk is full or the output folder is gone, since a browser download only stalls then.
    """

    def __init__(
        self,
        tab: Any,
        folder: POFolder,
        settings: DownloadSettings,
        *,
        reload: Callable[[POPage], POPage],
        check_machine: Callable[[], None],
    ) -> None:
        self._tab = tab
        self._folder = folder
        self._settings = settings
        self._reload = reload
        self._check_machine = check_machine
        self._log = get_logger()

    @property
    def staging(self) -> Path:
        """The browser's download folder."""
        return Path(self._tab.download_dir)

    def download(self, attachment: Attachment, page: POPage) -> tuple[SavedFile, POPage]:
        """Save `attachment`, trying again after failures another try may fix.

        Returns:
            The saved file and the page the tab shows now (opened again when a try left it).

        Raises:
            TryFailed: The last try failed.
            SessionExpiredError: The site asked for sign-in.
        """
        try:
            return self._download_with_retries(attachment, page)
        finally:
            self.clear_staging()

    def _download_with_retries(self, attachment: Attachment, page: POPage) -> tuple[SavedFile, POPage]:
        settings = self._settings
        state: dict[str, Any] = {"page": page, "fetch": False}

        def before_sleep(retry_state: RetryCallState) -> None:
            outcome = retry_state.outcome
            exc = outcome.exception() if outcome is not None else None
            self._log.info(
                "attachment.retry",
                attachment=attachment.name_hint,
                attempt=retry_state.attempt_number,
                reason=str(exc),
            )
            if isinstance(exc, TryFailed):
                self._check_machine()  # with the partial file still there: it is what filled the disk
            self.clear_staging()
            if isinstance(exc, TryFailed):
                # Fetching in the page needs a URL; an attachment only a click reveals keeps being clicked.
                state["fetch"] = state["fetch"] or (exc.no_start and http_url(attachment) is not None)
                if exc.page_gone:
                    state["page"] = self._reload(state["page"])

        wait = backoff(settings.backoff_initial, settings.backoff_max)
        for attempt in tries(settings.max_attempts, wait, TryFailed, before_sleep=before_sleep):
            with attempt:
                current = state["page"]
                target = current.attachment(attachment.key) or attachment
                try_once = self._try_fetched if state["fetch"] else self._try_once
                saved = try_once(target, current)
        return saved, state["page"]

    def _try_once(self, attachment: Attachment, page: POPage) -> SavedFile:
        self.clear_staging()
        mode = "click" if attachment.trigger is Trigger.CLICK else "link"
        answer = self._tab.run_js(TRIGGER_JS, page.marker, mode, attachment.ref, attachment.url)
        if answer == "stale":
            raise TryFailed("the tab had left the page", page_gone=True)
        if answer == "missing":
            raise TryFailed("the attachment's button is gone from the page", page_gone=True)
        staged = self._wait_for_file(page)
        return self._folder.place(attachment, staged, staged.name, came_from=attachment.url)

    def _try_fetched(self, attachment: Attachment, page: POPage) -> SavedFile:
        """Fetch the file in the page, then save the blob: tells a server error at once, and saves files
        whose server name is too long for the browser's own download."""
        self.clear_staging()
        answer = self._tab.run_async_js(
            FETCH_JS, page.marker, attachment.url, timeout=self._settings.download_timeout
        )
        if not isinstance(answer, dict) or answer.get("state") == "stale":
            raise TryFailed("the tab had left the page", page_gone=True)
        landed = str(answer.get("url") or "")
        where = signin_redirect(attachment.url, landed) if landed else None
        same_host = urlparse(landed).hostname == urlparse(page.url).hostname
        if where and (same_host or where.startswith("identity provider")):
            raise SessionExpiredError(f"the file route sent the browser to {where}", redirected_to=landed)
        if answer.get("state") == "http":
            raise TryFailed(f"the server answered HTTP {answer.get('status')}", no_start=True)
        if answer.get("state") != "ok":
            raise TryFailed(f"fetching the file failed: {answer.get('message', answer)}", no_start=True)
        name = disposition_filename(str(answer.get("disposition") or ""))
        name = name or unquote(urlparse(landed or attachment.url).path.rstrip("/").rsplit("/", 1)[-1])
        try:
            self._tab.run_js(SAVE_BLOB_JS, safe_filename(name, max_bytes=_BLOB_NAME_BYTES))
            staged = self._wait_for_file(page)
        finally:
            self._tab.run_js(_REVOKE_BLOB_JS)
        return self._folder.place(attachment, staged, name, came_from=attachment.url)

    def _wait_for_file(self, page: POPage) -> Path:
        """Wait for one completed file in the staging folder; raise `TryFailed` when the try is hopeless."""
        s = self._settings
        start = time.monotonic()
        deadline = start + s.download_timeout
        next_page_check = start + s.page_check_interval
        last_partial_size = -1
        last_growth = start
        candidate: tuple[str, int] | None = None
        while True:
            now = time.monotonic()
            done, partial_size, any_partial = self._scan()
            if done and not any_partial:
                path, size = done[0]
                if candidate == (path.name, size):
                    return path
                candidate = (path.name, size)  # once more, to be sure the size is stable
            else:
                candidate = None
            if any_partial:
                if partial_size != last_partial_size:
                    last_partial_size, last_growth = partial_size, now
                elif now - last_growth > s.stall_timeout:
                    raise TryFailed(f"the download stopped growing for {s.stall_timeout:g} s")
            elif not done:
                too_late = now - start > s.start_timeout
                if now >= next_page_check or too_late:
                    next_page_check = now + s.page_check_interval
                    self._check_page(page)
                if too_late:
                    raise TryFailed(f"no download started within {s.start_timeout:g} s", no_start=True)
            if now > deadline:
                raise TryFailed(f"the download did not finish within {s.download_timeout:g} s")
            # A finished file only needs a quick second look to confirm its size; no need for a full interval.
            time.sleep(s.poll_interval if candidate is None else min(s.poll_interval, _CONFIRM_INTERVAL))

    def _remote(self) -> RemoteBrowserSession | None:
        session = getattr(self._tab, "session", None)
        if session is None or type(session) is BrowserSession:
            return None  # a local window: the Grid modules stay unimported in a local worker
        from coupadl.browser.remote import RemoteBrowserSession

        if isinstance(session, RemoteBrowserSession) and session.facts.downloads_enabled:
            return session
        return None  # a local window, or a Grid without managed downloads (no file starts: FAILED, said why)

    def _collect_remote(self) -> None:
        """A window on a Grid node: the browser saved the file on the node (Grid's managed downloads). Once
        the node lists a finished one, copy it into the staging folder (a new file there, never over one)
        and delete it on the node, so the local scan below finds it as it would a local download."""
        remote = self._remote()
        if remote is None:
            return
        # Only finished files: the node lists the browser's temporary files too (`.crdownload`, and
        # `.org.chromium.Chromium.*` / `org.chromium.Chromium.*` while the final name is not known yet);
        # Chromium renames to the final name only once the file is complete.
        names = [n for n in remote.downloaded_files() if not _is_partial(n) and not _TEMP_NAME.match(n)]
        if not names:
            return
        name = names[0]
        dest = self.staging / safe_filename(name, max_bytes=_BLOB_NAME_BYTES)
        self.staging.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            remote.fetch_download(name, dest)
        remote.clear_downloads()

    def _scan(self) -> tuple[list[tuple[Path, int]], int, bool]:
        """Completed files (oldest first) with sizes, total size of partial files, whether any is partial."""
        self._collect_remote()
        done: list[tuple[float, Path, int]] = []
        partial_size = 0
        any_partial = False
        try:
            entries = list(os.scandir(self.staging))
        except FileNotFoundError:
            return [], 0, False
        for entry in entries:
            try:
                info = entry.stat()
            except FileNotFoundError:  # renamed by the browser between listing and stat
                any_partial = True
                continue
            if _is_partial(entry.name):
                any_partial = True
                partial_size += info.st_size
            elif entry.is_file() and not entry.name.startswith("."):
                done.append((info.st_mtime, Path(entry.path), info.st_size))
            elif entry.name.startswith("."):
                any_partial = True  # the browser's hidden temporary file
        done.sort(key=lambda item: item[0])
        return [(path, size) for _, path, size in done], partial_size, any_partial

    def _check_page(self, page: POPage) -> None:
        """Raise when the tab left the probed page (sign-in → `SessionExpiredError`)."""
        answer = self._tab.run_js(PAGE_CHECK_JS, page.marker)
        still_there, href = answer if isinstance(answer, list) and len(answer) == 2 else (False, "")
        if still_there:
            return
        where = signin_redirect(page.url, str(href))
        if where:
            raise SessionExpiredError(f"sent to {where} while downloading", redirected_to=str(href))
        raise TryFailed(f"the tab navigated away to {href}", page_gone=True)

    def clear_staging(self) -> None:
        """Delete whatever a try left in the staging folder (it must be empty between attachments), and on a
        Grid node what the browser left in the session's managed downloads."""
        remote = self._remote()
        if remote is not None:
            remote.clear_downloads()
        try:
            entries = list(os.scandir(self.staging))
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    continue
                Path(entry.path).unlink()
            except OSError as exc:  # e.g. still held open by the browser on Windows
                self._log.warning("staging.leftover", file=entry.name, error=str(exc))
