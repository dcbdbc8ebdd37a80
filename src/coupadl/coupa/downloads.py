"""Download a page's attachments into the PO's folder: over HTTP with the window's session, or in the page.

**Over HTTP** (the usual way, `DownloadMode.AUTO`): every attachment with a URL is fetched by the worker
itself (`coupadl.coupa.http_batch`, `coupadl.coupa.http_files`) with the cookies the window would send to that
URL and the window's User-Agent, streamed into the PO folder under a hidden temporary name, hashed while
streaming and checked against `Content-Length`. Files of one page download concurrently
(`DownloadSettings.concurrency` at once); they are put in place in page order, so that names are the same
whatever finishes first. The browser is driven by one thread only: helper threads that need cookies for a
redirect hop ask the owning thread, which answers while it waits for the files.

**In the page** (fallback, attachments whose URL only a click reveals, and `DownloadMode.BROWSER`): the
browser's own download, one file at a time through the worker's staging folder (`coupadl.coupa.in_page`).

In `AUTO`, a file the HTTP path cannot get because of the network (transport, TLS, proxy) or an authorisation
refusal (401/403/407) is taken in the page instead; after three such refusals in a row, the worker uses the
page for the rest of its run (`http_clients.HttpHealth`, one warning).

Either way the file is put in the PO folder by `coupadl.coupa.po_folder.POFolder` (never overwriting, never a
second copy of what an earlier attempt saved). This module is the public face: the downloader and the names of
`coupadl.coupa.download_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from coupadl.coupa.attachments import Attachment
from coupadl.coupa.download_model import (
    DownloadMode,
    DownloadReport,
    DownloadSettings,
    FailedDownload,
    TryFailed,
)
from coupadl.coupa.http_batch import HttpBatch, http_url
from coupadl.coupa.http_clients import HttpClients, HttpHealth, http_health, shared_clients
from coupadl.coupa.http_files import FetchedFile, HttpRefused
from coupadl.coupa.in_page import InPageDownloader
from coupadl.coupa.page import POPage
from coupadl.coupa.po import SavedFile
from coupadl.coupa.po_folder import POFolder
from coupadl.log import get_logger

__all__ = [
    "AttachmentDownloader",
    "DownloadMode",
    "DownloadReport",
    "DownloadSettings",
    "FailedDownload",
    "SavedFile",
]


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
        self._folder = POFolder(folder)
        self._settings = settings
        self._reload = reload
        self._clients = clients
        self._health = health if health is not None else http_health()
        self._log = get_logger()
        self._in_page = InPageDownloader(
            tab, self._folder, settings, reload=reload, check_machine=self._check_machine
        )

    @property
    def staging(self) -> Path:
        """The browser's download folder."""
        return self._in_page.staging

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
        self._folder.start()
        report = DownloadReport()
        todo = [a for a in page.attachments if not already_saved.get(a.key)]
        over_http = [a for a in todo if self._over_http(a)]
        if over_http:
            self._folder.path.mkdir(parents=True, exist_ok=True)
        current = page
        try:
            with HttpBatch(
                over_http,
                page,
                session=getattr(self._tab, "session", None),
                folder=self._folder.path,
                settings=self._settings,
                health=self._health,
                clients=self._http_clients,
            ) as batch:
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
                            saved, current = self._in_page.download(attachment, current)
                    except TryFailed as exc:
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
            self._folder.tidy()
        return report

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
        self, batch: HttpBatch, attachment: Attachment, page: POPage
    ) -> tuple[SavedFile, POPage]:
        """The HTTP result of `attachment`, put in place; in the page instead when HTTP was refused."""
        outcome = batch.result(attachment)
        if isinstance(outcome, FetchedFile):
            return self._finish_fetched(attachment, outcome), page
        if isinstance(outcome, HttpRefused):
            if self._settings.mode is DownloadMode.HTTP:
                raise TryFailed(outcome.reason)
            self._log.info(
                "attachment.browser_fallback", attachment=attachment.name_hint, reason=outcome.reason
            )
            return self._in_page.download(attachment, page)
        raise TryFailed(outcome.reason)

    def _finish_fetched(self, attachment: Attachment, fetched: FetchedFile) -> SavedFile:
        return self._folder.place(
            attachment,
            fetched.temp,
            fetched.name or attachment.name_hint,
            came_from=fetched.final_url,
            digest=(fetched.size, fetched.sha256),
        )
