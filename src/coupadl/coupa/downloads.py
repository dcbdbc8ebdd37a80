"""Download a page's attachments into the PO's folder: over HTTP with the window's session, or in the page.

**Over HTTP** (the usual way, `DownloadMode.AUTO`): every attachment with a URL is fetched by the worker
itself (`coupadl.coupa.http_files`) with the cookies the window would send to that URL and the window's
User-Agent, streamed into the PO folder under a hidden temporary name, hashed while streaming and checked
against `Content-Length`. Files of one page download concurrently (`DownloadSettings.concurrency` at once);
they are put in place in page order, so that names are the same whatever finishes first. The browser is
driven by one thread only: helper threads that need cookies for a redirect hop ask the owning thread, which
answers while it waits for the files.

**In the page** (fallback, attachments whose URL only a click reveals, and `DownloadMode.BROWSER`): the page's
button is clicked for script-driven attachments, and for plain URLs a temporary `<a download href=...>` is
clicked, so that an error response becomes a failed download instead of navigating the PO page away. The
browser saves into the worker's private staging folder (`tab.download_dir`) under the name the server sends.
With `Browser.setDownloadBehavior allow` a second file of the same name would overwrite the first, so these
run strictly one after the other: wait until the new file is complete (no `.crdownload` left, size stable),
move it into the PO folder with `place_file` (never overwriting), hash it, and leave the staging folder
empty.

In `AUTO`, a file the HTTP path cannot get because of the network (transport, TLS, proxy) or an authorisation
refusal (401/403/407) is taken in the page instead; after three such refusals in a row, the worker uses the
page for the rest of its run (`http_files.HttpHealth`, one warning).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlparse

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from coupadl.browser.cookies import cookie_header, window_cookies, window_user_agent
from coupadl.browser.signin import signin_redirect
from coupadl.coupa.filenames import disposition_filename, place_file, safe_filename, split_extension
from coupadl.coupa.http_files import (
    FetchCancelled,
    FetchedFile,
    FetchLimits,
    HttpClients,
    HttpHealth,
    HttpRefused,
    HttpTryFailed,
    fetch_file,
    http_health,
    is_temp_name,
    shared_clients,
    sweep_temp_files,
)
from coupadl.coupa.page import Attachment, POPage, Trigger
from coupadl.coupa.po import SavedFile
from coupadl.errors import SessionExpiredError
from coupadl.log import get_logger

__all__ = [
    "FETCH_JS",
    "PAGE_CHECK_JS",
    "SAVE_BLOB_JS",
    "TRIGGER_JS",
    "AttachmentDownloader",
    "DownloadMode",
    "DownloadReport",
    "DownloadSettings",
    "FailedDownload",
    "SavedFile",
    "file_digest",
    "http_url",
]

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

_HTML_SNIFF_BYTES = 65_536
_CONFIRM_INTERVAL = 0.005
_SIGNIN_MARKERS = (b'type="password"', b"type='password'", b"type=password", b"user_password")


class DownloadMode(StrEnum):
    """How attachments are fetched."""

    AUTO = "auto"  # over HTTP with the window's session; in the page when HTTP is refused or no URL is known
    HTTP = "http"  # over HTTP only (no fallback); attachments without a URL are still clicked in the page
    BROWSER = "browser"  # every file through the browser's own download


@dataclass(frozen=True)
class DownloadSettings:
    """Timeouts (seconds), retry policy and mode for attachment downloads.

    Attributes:
        download_timeout: Longest time one try of one file may take, from trigger to completed file.
        start_timeout: A try fails when neither a file nor a `.crdownload` appeared within this time.
        stall_timeout: A try fails when the `.crdownload` did not grow for this long.
        max_attempts: Tries per file (the first included).
        poll_interval: How often the staging folder is looked at.
        page_check_interval: While nothing has appeared, how often the tab is asked whether it left the page.
        backoff_initial: Wait before the second try; doubles for each further try.
        backoff_max: Longest wait between tries.
        mode: Over HTTP (with in-page fallback), over HTTP only, or in the page only.
        concurrency: Files of one page fetched over HTTP at once.
    """

    download_timeout: float = 120.0
    start_timeout: float = 15.0
    stall_timeout: float = 30.0
    max_attempts: int = 3
    poll_interval: float = 0.025
    page_check_interval: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 5.0
    mode: DownloadMode = DownloadMode.AUTO
    concurrency: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", DownloadMode(self.mode))
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in (
            "download_timeout",
            "start_timeout",
            "stall_timeout",
            "poll_interval",
            "page_check_interval",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.backoff_initial < 0 or self.backoff_max < 0:
            raise ValueError("backoff times must not be negative")


@dataclass(frozen=True)
class FailedDownload:
    """An attachment that could not be saved after every try.

    Attributes:
        attachment: The attachment.
        reason: Why the last try failed.
    """

    attachment: Attachment
    reason: str


@dataclass
class DownloadReport:
    """What happened to a page's attachments.

    Attributes:
        saved: Files saved now.
        skipped: Attachments saved by an earlier attempt or run: (key, saved name).
        failed: Attachments that could not be saved.
        names: Saved names (now or earlier) in page order.
    """

    saved: list[SavedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[FailedDownload] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @property
    def downloaded(self) -> int:
        """Attachments that are in the PO folder, whether saved now or earlier."""
        return len(self.saved) + len(self.skipped)

    def extend(self, other: DownloadReport) -> None:
        """Add another page's report to this one."""
        self.saved.extend(other.saved)
        self.skipped.extend(other.skipped)
        self.failed.extend(other.failed)
        self.names.extend(other.names)


class _TryFailed(Exception):
    """One try of one download failed in a way another try may fix."""

    def __init__(self, reason: str, *, page_gone: bool = False, no_start: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.page_gone = page_gone
        self.no_start = no_start


def file_digest(path: Path) -> tuple[int, str]:
    """Size and hex SHA-256 of a file (the size is what was read)."""
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
        return fh.tell(), digest.hexdigest()


def http_url(attachment: Attachment) -> str | None:
    """The attachment's URL when a plain HTTP client can ask for it; None when only a click reveals it."""
    parsed = urlparse(attachment.url)
    return attachment.url if parsed.scheme in ("http", "https") and parsed.netloc else None


def _is_partial(name: str) -> bool:
    return name.lower().endswith(PARTIAL_SUFFIXES)


def _looks_like_signin_page(path: Path, expected_name: str) -> bool:
    """A sign-in page saved as a download: what a file route returns once the session has expired."""
    if expected_name.lower().endswith((".htm", ".html", ".xhtml")):
        return False
    with path.open("rb") as fh:
        head = fh.read(_HTML_SNIFF_BYTES)
    start = head.lstrip()[:15].lower()
    if not (start.startswith((b"<!doctype html", b"<html"))):
        return False
    lowered = head.lower()
    return any(marker in lowered for marker in _SIGNIN_MARKERS)


class AttachmentDownloader:
    """Downloads attachments shown in one tab into one PO folder.

    Args:
        tab: The task's `coupadl.browser.session.Tab`; its `download_dir` is the staging folder of in-page
            downloads, its `session` gives the cookies and User-Agent of HTTP downloads (a tab without a
            `session` downloads in the page only).
        folder: The PO folder (created when the first file arrives).
        settings: Mode, timeouts and retries.
        reload: Opens the page again after the tab navigated away and returns the freshly probed page; it
            raises `SessionExpiredError` when the site now asks for sign-in.
        clients: HTTP clients (default: the process's own, made on first use).
        health: Whether HTTP still serves in this process (default: the process's own).
        check_machine: Called after a try failed (before any retry); raises `MachineFaultError` when the
            disk is full or the output folder is gone, since a browser download only stalls then.
    """

    def __init__(
        self,
        tab: Any,
        folder: Path,
        settings: DownloadSettings,
        *,
        reload: Callable[[POPage], POPage],
        clients: HttpClients | None = None,
        health: HttpHealth | None = None,
        check_machine: Callable[[], None] | None = None,
    ) -> None:
        self._check_machine = check_machine or (lambda: None)
        self._tab = tab
        self._folder = folder
        self._settings = settings
        self._reload = reload
        self._clients = clients
        self._health = health if health is not None else http_health()
        self._log = get_logger()
        self._preexisting: set[str] | None = None
        self._adopted: set[str] = set()
        self._folder_existed = True

    @property
    def staging(self) -> Path:
        """The browser's download folder."""
        return Path(self._tab.download_dir)

    def download_page(self, page: POPage, already_saved: Mapping[str, str]) -> DownloadReport:
        """Save every attachment of `page` not in `already_saved`; the report lists them in page order.

        Args:
            page: The probed page the tab shows now.
            already_saved: Attachment key → file name saved by an earlier attempt or run; these are skipped
                and counted as downloaded.

        Returns:
            What was saved, skipped and failed.

        Raises:
            SessionExpiredError: The site asked for sign-in while downloading.
            BrowserCrashedError: The browser died.
            RetryableTaskError: The page could not be opened again after it was navigated away.
        """
        self._start()
        report = DownloadReport()
        todo = [a for a in page.attachments if not already_saved.get(a.key)]
        over_http = [a for a in todo if self._over_http(a)]
        if over_http:
            self._folder.mkdir(parents=True, exist_ok=True)
        current = page
        try:
            with _HttpBatch(self, over_http, page) as batch:
                for attachment in page.attachments:
                    previous = already_saved.get(attachment.key)
                    if previous:
                        report.skipped.append((attachment.key, previous))
                        report.names.append(previous)
                        continue
                    try:
                        if batch.has(attachment):
                            saved, current = self._take_fetched(batch, attachment, current)
                        else:
                            saved, current = self._take_in_page(attachment, current)
                    except _TryFailed as exc:
                        self._check_machine()
                        self._log.warning(
                            "attachment.failed",
                            attachment=attachment.name_hint,
                            url=attachment.key,
                            reason=exc.reason,
                        )
                        report.failed.append(FailedDownload(attachment, exc.reason))
                        if exc.page_gone:
                            current = self._reload(current)
                        continue
                    report.saved.append(saved)
                    report.names.append(saved.name)
        finally:
            self._tidy_folder()
        return report

    def _start(self) -> None:
        """Once per PO: remove temporary files a killed worker left, note which files were there before."""
        if self._preexisting is not None:
            return
        removed = sweep_temp_files(self._folder)
        if removed:
            self._log.info("attachment.leftovers_removed", files=len(removed))
        try:
            self._preexisting = {
                p.name for p in self._folder.iterdir() if p.is_file() and not is_temp_name(p.name)
            }
        except (FileNotFoundError, NotADirectoryError):
            self._preexisting = set()
            self._folder_existed = False

    def _tidy_folder(self) -> None:
        """Remove the PO folder again when this task made it and nothing was saved in it."""
        if self._folder_existed:
            return
        with contextlib.suppress(OSError):  # not empty (or never made): keep it
            self._folder.rmdir()

    def _over_http(self, attachment: Attachment) -> bool:
        return (
            self._settings.mode is not DownloadMode.BROWSER
            and (self._settings.mode is DownloadMode.HTTP or self._health.usable)
            and http_url(attachment) is not None
            and getattr(self._tab, "session", None) is not None
        )

    def _http_clients(self) -> HttpClients:
        if self._clients is None:
            self._clients = shared_clients()
        return self._clients

    # --- over HTTP -----------------------------------------------------------------------------------------

    def _take_fetched(
        self, batch: _HttpBatch, attachment: Attachment, page: POPage
    ) -> tuple[SavedFile, POPage]:
        """The HTTP result of `attachment`, put in place; in the page instead when HTTP was refused."""
        outcome = batch.result(attachment)
        if isinstance(outcome, FetchedFile):
            return self._finish_fetched(attachment, outcome), page
        if isinstance(outcome, HttpRefused):
            if self._settings.mode is DownloadMode.HTTP:
                raise _TryFailed(outcome.reason)
            self._log.info(
                "attachment.browser_fallback", attachment=attachment.name_hint, reason=outcome.reason
            )
            return self._take_in_page(attachment, page)
        raise _TryFailed(outcome.reason)

    def _finish_fetched(self, attachment: Attachment, fetched: FetchedFile) -> SavedFile:
        if _looks_like_signin_page(fetched.temp, attachment.name_hint):
            fetched.temp.unlink(missing_ok=True)
            raise SessionExpiredError(
                f"the file route of {attachment.name_hint or attachment.key} answered with a sign-in page",
                redirected_to=fetched.final_url,
            )
        name = fetched.name or attachment.name_hint
        return self._place(attachment, fetched.temp, name, (fetched.size, fetched.sha256))

    def fetch_with_retries(self, attachment: Attachment, page_url: str, batch: _HttpBatch) -> FetchedFile:
        """Fetch one file over HTTP, trying again after failures another try may fix (helper thread)."""
        s = self._settings
        limits = FetchLimits(connect=s.start_timeout, stall=s.stall_timeout, total=s.download_timeout)
        url = http_url(attachment) or attachment.url
        for attempt in range(1, s.max_attempts + 1):
            if s.mode is DownloadMode.AUTO and not self._health.usable:
                raise HttpRefused("the HTTP path is off for the rest of this window's run")
            try:
                fetched = fetch_file(
                    self._http_clients(),
                    url,
                    self._folder,
                    page_url=page_url,
                    cookie_header=batch.cookie_header,
                    user_agent=batch.user_agent,
                    limits=limits,
                    cancel=batch.cancel,
                )
            except HttpRefused as exc:
                self._health.refused(exc.reason)  # counted at once: later files see it before they start
                raise
            except HttpTryFailed as exc:
                if attempt >= s.max_attempts:
                    raise
                self._log.info(
                    "attachment.retry", attachment=attachment.name_hint, attempt=attempt, reason=exc.reason
                )
                if batch.cancel.wait(min(s.backoff_initial * 2 ** (attempt - 1), s.backoff_max)):
                    raise FetchCancelled("stopped: the PO ended") from None
            else:
                self._health.succeeded()
                return fetched
        raise AssertionError("unreachable")  # the loop returns or raises

    # --- in the page ---------------------------------------------------------------------------------------

    def _take_in_page(self, attachment: Attachment, page: POPage) -> tuple[SavedFile, POPage]:
        try:
            return self._download_with_retries(attachment, page)
        finally:
            self._clear_staging()

    # --- one file ------------------------------------------------------------------------------------------

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
            if isinstance(exc, _TryFailed):
                self._check_machine()  # with the partial file still there: it is what filled the disk
            self._clear_staging()
            if isinstance(exc, _TryFailed):
                # Fetching in the page needs a URL; an attachment only a click reveals keeps being clicked.
                state["fetch"] = state["fetch"] or (exc.no_start and http_url(attachment) is not None)
                if exc.page_gone:
                    state["page"] = self._reload(state["page"])

        retrying = Retrying(
            stop=stop_after_attempt(settings.max_attempts),
            wait=wait_exponential(multiplier=settings.backoff_initial, max=settings.backoff_max),
            retry=retry_if_exception_type(_TryFailed),
            before_sleep=before_sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                current = state["page"]
                target = current.attachment(attachment.key) or attachment
                try_once = self._try_fetched if state["fetch"] else self._try_once
                saved = try_once(target, current)
        return saved, state["page"]

    def _try_once(self, attachment: Attachment, page: POPage) -> SavedFile:
        self._clear_staging()
        mode = "click" if attachment.trigger is Trigger.CLICK else "link"
        answer = self._tab.run_js(TRIGGER_JS, page.marker, mode, attachment.ref, attachment.url)
        if answer == "stale":
            raise _TryFailed("the tab had left the page", page_gone=True)
        if answer == "missing":
            raise _TryFailed("the attachment's button is gone from the page", page_gone=True)
        staged = self._wait_for_file(page)
        return self._finish(attachment, staged, staged.name)

    def _try_fetched(self, attachment: Attachment, page: POPage) -> SavedFile:
        """Fetch the file in the page, then save the blob: tells a server error at once, and saves files
        whose server name is too long for the browser's own download."""
        self._clear_staging()
        answer = self._tab.run_async_js(
            FETCH_JS, page.marker, attachment.url, timeout=self._settings.download_timeout
        )
        if not isinstance(answer, dict) or answer.get("state") == "stale":
            raise _TryFailed("the tab had left the page", page_gone=True)
        landed = str(answer.get("url") or "")
        where = signin_redirect(attachment.url, landed) if landed else None
        same_host = urlparse(landed).hostname == urlparse(page.url).hostname
        if where and (same_host or where.startswith("identity provider")):
            raise SessionExpiredError(f"the file route sent the browser to {where}", redirected_to=landed)
        if answer.get("state") == "http":
            raise _TryFailed(f"the server answered HTTP {answer.get('status')}", no_start=True)
        if answer.get("state") != "ok":
            raise _TryFailed(f"fetching the file failed: {answer.get('message', answer)}", no_start=True)
        name = disposition_filename(str(answer.get("disposition") or ""))
        name = name or unquote(urlparse(landed or attachment.url).path.rstrip("/").rsplit("/", 1)[-1])
        try:
            self._tab.run_js(SAVE_BLOB_JS, safe_filename(name, max_bytes=_BLOB_NAME_BYTES))
            staged = self._wait_for_file(page)
        finally:
            self._tab.run_js(_REVOKE_BLOB_JS)
        return self._finish(attachment, staged, name)

    def _finish(self, attachment: Attachment, staged: Path, server_name: str) -> SavedFile:
        if _looks_like_signin_page(staged, attachment.name_hint):
            staged.unlink(missing_ok=True)
            raise SessionExpiredError(
                f"the file route of {attachment.name_hint or attachment.key} answered with a sign-in page",
                redirected_to=attachment.url,
            )
        return self._place(attachment, staged, server_name)

    def _wait_for_file(self, page: POPage) -> Path:
        """Wait for one completed file in the staging folder; raise `_TryFailed` when the try is hopeless."""
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
                    raise _TryFailed(f"the download stopped growing for {s.stall_timeout:g} s")
            elif not done:
                too_late = now - start > s.start_timeout
                if now >= next_page_check or too_late:
                    next_page_check = now + s.page_check_interval
                    self._check_page(page)
                if too_late:
                    raise _TryFailed(f"no download started within {s.start_timeout:g} s", no_start=True)
            if now > deadline:
                raise _TryFailed(f"the download did not finish within {s.download_timeout:g} s")
            # A finished file only needs a quick second look to confirm its size; no need for a full interval.
            time.sleep(s.poll_interval if candidate is None else min(s.poll_interval, _CONFIRM_INTERVAL))

    def _scan(self) -> tuple[list[tuple[Path, int]], int, bool]:
        """Completed files (oldest first) with sizes, total size of partial files, whether any is partial."""
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
        raise _TryFailed(f"the tab navigated away to {href}", page_gone=True)

    # --- into the PO folder ------------------------------------------------------------------------------

    def _place(
        self, attachment: Attachment, staged: Path, server_name: str, digest: tuple[int, str] | None = None
    ) -> SavedFile:
        size, sha256 = digest if digest is not None else file_digest(staged)
        existing = self._identical_earlier_file(server_name, sha256)
        if existing is not None:
            # Saved by an attempt whose result never reached the progress store (e.g. the session expired
            # half-way): keep that file instead of a second copy.
            staged.unlink(missing_ok=True)
            self._adopted.add(existing.name)
            self._log.info("attachment.already_on_disk", file=existing.name, url=attachment.key)
            return SavedFile(key=attachment.key, name=existing.name, size=size, sha256=sha256, path=existing)
        final = place_file(staged, self._folder, server_name)
        self._log.info("attachment.saved", file=final.name, size=size, url=attachment.key)
        return SavedFile(key=attachment.key, name=final.name, size=size, sha256=sha256, path=final)

    def _identical_earlier_file(self, name: str, sha256: str) -> Path | None:
        """A file of the same name (or its `name (n).ext` copy) that was in the folder before this task."""
        self._start()
        if not self._preexisting:
            return None
        stem, ext = split_extension(safe_filename(name))
        for other in sorted(self._preexisting - self._adopted):
            other_stem, other_ext = split_extension(other)
            same_name = other_ext == ext and (
                other_stem == stem or (other_stem.startswith(f"{stem} (") and other_stem.endswith(")"))
            )
            if same_name and file_digest(self._folder / other)[1] == sha256:
                return self._folder / other
        return None

    def _clear_staging(self) -> None:
        """Delete whatever a try left in the staging folder (it must be empty between attachments)."""
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


class _HttpBatch:
    """The HTTP downloads of one page, running on helper threads while the owning thread drives the browser.

    The owning thread (the one that made the batch, which drives the browser) reads the cookies for every
    file URL up front; a helper thread that needs cookies for another URL (a redirect hop) puts the request
    on a queue that the owning thread serves while it waits for results. Leaving the batch stops whatever is
    still running and removes temporary files nobody placed.
    """

    def __init__(self, downloader: AttachmentDownloader, attachments: list[Attachment], page: POPage) -> None:
        self.cancel = threading.Event()
        self.user_agent = ""
        self._owner = threading.get_ident()
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._cookies: dict[str, str] = {}
        self._futures: dict[str, Future[FetchedFile]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._session = getattr(downloader._tab, "session", None)
        if not attachments:
            return
        self.user_agent = window_user_agent(self._session) if self._session is not None else ""
        for attachment in attachments:
            url = http_url(attachment) or attachment.url
            self._cookies[url] = self._read_cookies(url)
        workers = min(downloader._settings.concurrency, len(attachments))
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="coupadl-http")
        for attachment in attachments:
            context = contextvars.copy_context()  # the worker and PO stay on every log line
            future = self._executor.submit(
                context.run, downloader.fetch_with_retries, attachment, page.url, self
            )
            future.add_done_callback(lambda _f: self._calls.put(None))
            self._futures[attachment.key] = future

    def __enter__(self) -> _HttpBatch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cancel.set()
        futures = list(self._futures.values())
        while not all(f.done() for f in futures):
            item = self._calls.get()
            if item is not None:
                item[1].set_exception(FetchCancelled("stopped: the PO ended"))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        for future in futures:
            if not future.cancelled() and future.exception() is None:
                future.result().temp.unlink(missing_ok=True)  # placed files are no longer there

    def has(self, attachment: Attachment) -> bool:
        """Whether `attachment` is being fetched by this batch."""
        return attachment.key in self._futures

    def result(self, attachment: Attachment) -> FetchedFile | HttpRefused | HttpTryFailed:
        """Wait for `attachment`'s file, answering helper threads' cookie requests meanwhile.

        Raises:
            SessionExpiredError, OSError, CoupadlError: whatever ended the fetch other than a refusal or a
            failed try.
        """
        future = self._futures[attachment.key]
        while not future.done():
            item = self._calls.get()
            if item is not None:
                call, answer = item
                try:
                    answer.set_result(call())
                except BaseException as exc:  # noqa: BLE001 - handed to the helper thread that asked
                    answer.set_exception(exc)
        error = future.exception()
        if isinstance(error, HttpRefused | HttpTryFailed):
            return error
        if error is not None:
            raise error
        return future.result()

    def cookie_header(self, url: str) -> str:
        """The `Cookie` header the window would send to `url` (read up front, else asked of the owner)."""
        cached = self._cookies.pop(url, None)  # once: a later try or hop asks the browser again
        if cached is not None:
            return cached
        if threading.get_ident() == self._owner:
            return self._read_cookies(url)
        answer: Future[str] = Future()
        self._calls.put((lambda: self._read_cookies(url), answer))
        return answer.result()

    def _read_cookies(self, url: str) -> str:
        if self._session is None:
            return ""
        return cookie_header(window_cookies(self._session, url))
