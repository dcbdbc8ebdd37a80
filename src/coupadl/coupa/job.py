"""The task handler the worker pool calls for one PO: open it, judge it, download its attachments.

The pool is generic over what it carries: `process_po(tab, task, options, attempt)` takes a `POTask` and the
run's `JobOptions` and returns a `POResult` (`coupadl.coupa.task`).
What the caller should do about a problem is said by the exception raised:

- `SessionExpiredError`: the site asked for sign-in; the PO goes back to the queue (never "not found").
- `BrowserCrashedError`: propagated untouched; the pool restarts the window.
- `ThrottledError`: HTTP 429; the PO goes back without spending an attempt and every window waits.
- `RetryableTaskError`: a slow, broken or unsettled page, or attachments that all failed to download.
- `PermanentTaskError`: no retry can help.
- `MachineFaultError`: the output disk is full or the output folder is gone; the whole run stops.

Everything else ends in a `POResult` with a `POStatus`. Where the browser landed decides first
(`coupa.page.classify_page`): Coupa's not-found page or HTTP 404/403 is `PO_NOT_FOUND`; any other place (home,
another record) is `FAILED` with the evidence, nothing saved. `NO_ATTACHMENTS` is only said of the identified
page once it has settled (see `coupa.page.settle_page`), and its `error` says what proved it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from coupadl.browser.session import Tab
from coupadl.browser.signin import signin_redirect
from coupadl.coupa.downloads import AttachmentDownloader, DownloadReport
from coupadl.coupa.filenames import po_folder
from coupadl.coupa.options import JobOptions
from coupadl.coupa.page import (
    RETRY_AFTER_JS,
    SETTLE_JS,
    Expected,
    PageKind,
    POPage,
    classify_page,
    parse_retry_after,
    settle_arguments,
    settle_page,
)
from coupadl.coupa.po import POStatus
from coupadl.coupa.task import POResult, POTask
from coupadl.errors import RetryableTaskError, SessionExpiredError, ThrottledError
from coupadl.faults import check_folder, raise_machine_fault
from coupadl.log import get_logger

__all__ = ["JobOptions", "open_page", "process_po"]


def open_page(
    tab: Any,
    url: str,
    *,
    po_digits: str,
    expected: Expected,
    opts: JobOptions | None = None,
    timeout: float | None = None,
) -> POPage:
    """Open `url` in `tab`, let it settle (without holding it for the quiet time) and judge it.

    Args:
        tab: The task's `coupadl.browser.session.Tab`.
        url: The PO or requisition page.
        po_digits: The PO being processed.
        opts: The job's options (timeouts, texts); default options when None.
        expected: The page asked for; where the browser landed is judged against it first.
        timeout: Page-load timeout in seconds (overrides `opts.page_load_timeout`).

    Returns:
        The probed page: content (maybe not settled: see `POPage.settle`), Coupa's not-found page or
        HTTP 404/403 (`NOT_FOUND`), or somewhere else (`WRONG_PAGE`).

    Raises:
        SessionExpiredError: The browser was sent to sign-in or SSO, or the page shows a password form.
        ThrottledError: HTTP 429.
        RetryableTaskError: The page did not load, is empty, or is a server error page.
    """
    opts = opts or JobOptions(base_url="", out_dir=Path())
    marker = secrets.token_hex(8)
    # The settle script rides on the tab's new-page check: one round trip once the page has loaded.
    final, raw = tab.open_async(
        url,
        timeout if timeout is not None else opts.page_load_timeout,
        SETTLE_JS,
        *settle_arguments(marker, 0.0, opts.settle_timeout, opts.loading_texts),
        script_timeout=opts.settle_timeout + 10.0,
    )
    page = classify_page(
        raw if isinstance(raw, Mapping) else {},
        po_digits=po_digits,
        marker=marker,
        error_texts=opts.error_texts,
        expected=expected,
    )
    landed = page.url or final
    where = signin_redirect(url, landed, has_password_form=page.has_password_form)
    if where:
        raise SessionExpiredError(f"opening {url} led to {where}", redirected_to=landed)
    if landed.startswith(("chrome-error:", "edge-error:")):
        raise RetryableTaskError(f"{url} did not load (the browser shows its error page)")
    if page.kind is PageKind.THROTTLED:
        wait = _retry_after(tab, opts)
        raise ThrottledError(f"{url}: HTTP 429, retry after {wait:g} s", retry_after_s=wait)
    if page.kind in (PageKind.SERVER_ERROR, PageKind.UNRECOGNISED):
        raise RetryableTaskError(f"{url}: {page.error_text or page.kind.value}")
    return page


def _retry_after(tab: Any, opts: JobOptions) -> float:
    """The site's `Retry-After` (read with one HEAD request), else the back-off; at most the cap."""
    answer = tab.run_async_js(RETRY_AFTER_JS, timeout=min(30.0, opts.page_load_timeout))
    header = str(answer.get("retry_after") or "") if isinstance(answer, Mapping) else ""
    wait = parse_retry_after(header)
    return min(opts.throttle_max_wait, opts.throttle_backoff if wait is None else wait)


def confirm_none(tab: Any, page: POPage, *, opts: JobOptions, po_digits: str, expected: Expected) -> POPage:
    """Before a page is said to have no attachments: wait until its candidates were unchanged for the
    quiet time (time already passed counts), then judge it again.

    Raises:
        RetryableTaskError: The page did not settle within the settle timeout.
    """
    if not page.settle.settled:
        raise RetryableTaskError(page.settle.reason(opts.settle_timeout))
    if page.settle.quiet_s < opts.settle_quiet:
        page = settle_page(
            tab,
            quiet=opts.settle_quiet,
            timeout=max(opts.settle_quiet + 1.0, opts.settle_timeout - page.settle.waited_s),
            po_digits=po_digits,
            marker=page.marker,
            error_texts=opts.error_texts,
            loading_texts=opts.loading_texts,
            expected=expected,
        )
    if page.kind is not PageKind.CONTENT:
        raise RetryableTaskError(f"{expected.what} changed while it settled: {page.error_text}")
    if not page.settle.settled:
        raise RetryableTaskError(page.settle.reason(opts.settle_timeout))
    return page


def _none_evidence(opts: JobOptions) -> str:
    """What proved a page has no attachment (`confirm_none` checked it)."""
    return f"settled (document complete, nothing loading, no attachment for {opts.settle_quiet:g} s)"


def _record_number(url: str) -> str:
    """The digits at the end of a record's path (`/requisition_headers/5001234` → `5001234`)."""
    tail = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else ""


STALLED_FREE_BYTES = 1 << 20
"""A download that failed with less than this free on the output disk failed because the disk is full."""


def process_po(tab: Tab, task: POTask, options: JobOptions, attempt: int = 1) -> POResult:
    """Download every attachment of one PO into `out_dir/<supplier>/<PO>`.

    Args:
        tab: A fresh `coupadl.browser.session.Tab` of the worker's window.
        task: The PO, its page, and what earlier attempts or runs saved (not downloaded again).
        options: The run's options (`coupadl.cli.wiring.handler_options` through `JobOptions.from_mapping`).
        attempt: Which attempt at this PO this is (from 1); named in the log.

    Returns:
        The outcome: `status`, with the evidence in `error` for every status but `COMPLETED`, and in `files`
        the files saved by this call.

    An OS error that is a fault of the machine (disk full, output folder gone) becomes `MachineFaultError`,
    which stops the run instead of failing the PO.

    Raises:
        SessionExpiredError: The site asked for sign-in.
        BrowserCrashedError: The browser died.
        ThrottledError: The site answered HTTP 429.
        RetryableTaskError: The page failed to load or to settle, or no attachment could be saved although
            some exist.
        MachineFaultError: The output disk is full or the output folder is gone.
    """
    try:
        _check_disk(options, options.min_free_bytes)
        return _process_po(tab, task, options, attempt)
    except OSError as exc:
        raise_machine_fault(exc, options.out_dir)
        raise


def _check_disk(opts: JobOptions, min_free_bytes: int) -> None:
    """Raise `MachineFaultError` when the output disk has less than `min_free_bytes` free. A missing output
    folder is made when the first file is saved; the supervisor watches for one that disappears."""
    if opts.out_dir.is_dir():
        check_folder(opts.out_dir, min_free_bytes=min_free_bytes)


def _process_po(tab: Tab, task: POTask, opts: JobOptions, attempt: int) -> POResult:
    """The work of `process_po`."""
    log = get_logger()
    started = time.monotonic()
    po = task.po
    url = task.url
    saved_before = task.saved_names()
    failed = POResult(POStatus.FAILED, coupa_url=url)

    expected = Expected(url=url, number=po.digits, what=f"PO {po.digits}")
    page = open_page(tab, url, opts=opts, po_digits=po.digits, expected=expected)
    if page.is_error:
        log.info("po.not_found", url=url, message=page.error_text)
        return replace(failed, status=POStatus.PO_NOT_FOUND, error=page.error_text)
    if page.kind is PageKind.WRONG_PAGE:
        log.warning("po.wrong_page", url=url, landed=page.url, message=page.error_text)
        return replace(failed, error=page.error_text)
    if not page.settle.settled:
        raise RetryableTaskError(page.settle.reason(opts.settle_timeout))
    if not page.attachments:
        page = confirm_none(tab, page, opts=opts, po_digits=po.digits, expected=expected)
    for note in page.notes:
        log.warning("po.page_note", note=note)
    failed = replace(failed, supplier=page.supplier)

    folder = po_folder(opts.out_dir, page.supplier or None, po)
    settings = opts.download_settings()

    def reload(stale: POPage) -> POPage:
        address = stale.url or url  # the PO's or a requisition's page
        again = Expected(url=address, number=_record_number(address), what=urlparse(address).path)
        fresh = open_page(tab, again.url, opts=opts, po_digits=po.digits, expected=again)
        if fresh.kind is not PageKind.CONTENT:
            raise RetryableTaskError(f"{stale.url} showed another page on reload: {fresh.error_text}")
        return fresh

    def check_machine() -> None:
        _check_disk(opts, max(opts.min_free_bytes, STALLED_FREE_BYTES))

    downloader = AttachmentDownloader(tab, folder, settings, reload=reload, check_machine=check_machine)
    report = DownloadReport()
    found: set[str] = set()
    evidence = [f"PO {po.digits}: {_none_evidence(opts)}"]

    def take(source: POPage) -> None:
        fresh = tuple(a for a in source.attachments if a.key not in found)
        found.update(a.key for a in fresh)
        if fresh:
            report.extend(downloader.download_page(replace(source, attachments=fresh), saved_before))

    def so_far(status: POStatus, error: str = "") -> POResult:
        """The result with what was found and saved up to now."""
        return replace(
            failed,
            status=status,
            error=error,
            attachments_found=len(found),
            attachments_downloaded=report.downloaded,
            attachment_names=tuple(report.names),
            download_folder=str(folder) if folder.is_dir() else "",
            files=tuple(report.saved),
        )

    if page.attachments:
        take(page)
    elif not opts.requisition_fallback:
        evidence.append("requisitions not looked at (requisition_fallback off)")
    elif not page.requisitions:
        evidence.append("no requisition linked")
    else:
        # Each requisition is downloaded while the tab shows it: its buttons only work on its own page.
        for link in page.requisitions:
            number = _record_number(link)
            wanted = Expected(url=link, number=number, what=f"requisition {number}")
            requisition = open_page(tab, link, opts=opts, po_digits=po.digits, expected=wanted)
            if requisition.is_error:
                log.info("requisition.not_found", url=link, message=requisition.error_text)
                evidence.append(f"requisition {number} not found ({requisition.error_text})")
                continue
            if requisition.kind is PageKind.WRONG_PAGE:
                # Its files cannot be told from another record's: the PO is not finished. What earlier
                # requisitions saved is reported, so the progress store knows those files.
                log.warning("requisition.wrong_page", url=link, landed=requisition.url)
                return so_far(POStatus.FAILED, f"requisition {number}: {requisition.error_text}")
            if not requisition.settle.settled:
                reason = requisition.settle.reason(opts.settle_timeout)
                raise RetryableTaskError(f"requisition {number}: {reason}")
            if not requisition.attachments:
                requisition = confirm_none(tab, requisition, opts=opts, po_digits=po.digits, expected=wanted)
                evidence.append(f"requisition {number}: {_none_evidence(opts)}")
            take(requisition)

    if not found:
        log.info(
            "po.no_attachments",
            url=url,
            attempt=attempt,
            requisitions=len(page.requisitions),
            settle_s=round(page.settle.waited_s, 3),
            seconds=round(time.monotonic() - started, 3),
        )
        return replace(failed, status=POStatus.NO_ATTACHMENTS, error="; ".join(evidence))
    done = so_far(POStatus.COMPLETED)
    failures = "; ".join(f"{f.attachment.name_hint or f.attachment.key}: {f.reason}" for f in report.failed)
    log.info(
        "po.done",
        attempt=attempt,
        found=len(found),
        saved=len(report.saved),
        skipped=len(report.skipped),
        failed=len(report.failed),
        seconds=round(time.monotonic() - started, 3),
        settle_s=round(page.settle.waited_s, 3),  # what waiting for the page to settle cost this PO
    )
    if not report.failed:
        return done
    if report.downloaded == 0:
        raise RetryableTaskError(f"no attachment of {po.display} could be saved: {failures}")
    return replace(done, status=POStatus.PARTIAL, error=f"not saved: {failures}")
