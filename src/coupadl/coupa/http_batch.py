"""The HTTP downloads of one page, fetched on helper threads while the owning thread drives the browser.

The owning thread (the one that made the batch, which drives the browser) reads the cookies for every file
URL up front; a helper thread that needs cookies for another URL (a redirect hop) puts the request on a queue
that the owning thread serves while it waits for results. Each file is tried again after failures another
try may fix; a refusal (401/403/407) is counted in `HttpHealth` at once. Leaving the batch stops whatever is
still running and removes temporary files nobody placed.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

from tenacity import RetryCallState

from coupadl.browser.cookies import cookie_header, window_cookies, window_user_agent
from coupadl.coupa.attachments import Attachment
from coupadl.coupa.download_model import DownloadMode, DownloadSettings
from coupadl.coupa.http_clients import HttpClients, HttpHealth
from coupadl.coupa.http_files import (
    FetchCancelled,
    FetchedFile,
    FetchLimits,
    HttpRefused,
    HttpTryFailed,
    fetch_file,
)
from coupadl.coupa.page import POPage
from coupadl.log import get_logger
from coupadl.retrying import backoff, tries

__all__ = ["HttpBatch", "http_url"]


def http_url(attachment: Attachment) -> str | None:
    """The attachment's URL when a plain HTTP client can ask for it; None when only a click reveals it."""
    parsed = urlparse(attachment.url)
    return attachment.url if parsed.scheme in ("http", "https") and parsed.netloc else None


class HttpBatch:
    """Fetches `attachments` of `page` into `folder` under temporary names, `settings.concurrency` at once.

    Args:
        attachments: The files to fetch (each has an `http_url`).
        page: The page they are on (its address is the `Referer` and the sign-in check's origin).
        session: The window's `BrowserSession` (cookies and User-Agent); None fetches nothing.
        folder: The PO folder the temporary files are written in.
        settings: Timeouts, tries and mode.
        health: Whether HTTP still serves in this process.
        clients: Gives the HTTP clients (made on first use).
    """

    def __init__(
        self,
        attachments: list[Attachment],
        page: POPage,
        *,
        session: Any,
        folder: Path,
        settings: DownloadSettings,
        health: HttpHealth,
        clients: Callable[[], HttpClients],
    ) -> None:
        self.cancel = threading.Event()
        self.user_agent = ""
        self._folder = folder
        self._settings = settings
        self._health = health
        self._clients = clients
        self._log = get_logger()
        self._owner = threading.get_ident()
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._cookies: dict[str, str] = {}
        self._futures: dict[str, Future[FetchedFile]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._session = session
        if not attachments:
            return
        self.user_agent = window_user_agent(self._session) if self._session is not None else ""
        for attachment in attachments:
            url = http_url(attachment) or attachment.url
            self._cookies[url] = self._read_cookies(url)
        workers = min(settings.concurrency, len(attachments))
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="coupadl-http")
        for attachment in attachments:
            context = contextvars.copy_context()  # the worker and PO stay on every log line
            future = self._executor.submit(context.run, self._fetch_with_retries, attachment, page.url)
            future.add_done_callback(lambda _f: self._calls.put(None))
            self._futures[attachment.key] = future

    def __enter__(self) -> HttpBatch:
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

    def _fetch_with_retries(self, attachment: Attachment, page_url: str) -> FetchedFile:
        """Fetch one file over HTTP, trying again after failures another try may fix (helper thread)."""
        s = self._settings
        limits = FetchLimits(connect=s.start_timeout, stall=s.stall_timeout, total=s.download_timeout)
        url = http_url(attachment) or attachment.url

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            reason = error.reason if isinstance(error, HttpTryFailed) else str(error)
            self._log.info(
                "attachment.retry",
                attachment=attachment.name_hint,
                attempt=state.attempt_number,
                reason=reason,
            )

        def sleep(seconds: float) -> None:
            if self.cancel.wait(seconds):
                raise FetchCancelled("stopped: the PO ended")

        wait = backoff(s.backoff_initial, s.backoff_max)
        for attempt in tries(s.max_attempts, wait, HttpTryFailed, before_sleep=before_sleep, sleep=sleep):
            with attempt:
                if s.mode is DownloadMode.AUTO and not self._health.usable:
                    raise HttpRefused("the HTTP path is off for the rest of this window's run")
                try:
                    fetched = fetch_file(
                        self._clients(),
                        url,
                        self._folder,
                        page_url=page_url,
                        cookie_header=self.cookie_header,
                        user_agent=self.user_agent,
                        limits=limits,
                        cancel=self.cancel,
                    )
                except HttpRefused as exc:
                    self._health.refused(exc.reason)  # counted at once: later files see it before they start
                    raise
                self._health.succeeded()
                return fetched
        raise AssertionError("unreachable")  # the last attempt returns or raises
