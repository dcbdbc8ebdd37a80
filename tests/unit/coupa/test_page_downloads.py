"""`AttachmentDownloader` with a scripted fake tab: waiting, stalls, retries, navigation, sign-in, reruns."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coupadl.coupa.downloads import AttachmentDownloader, DownloadMode, DownloadSettings
from coupadl.coupa.in_page import FETCH_JS, PAGE_CHECK_JS, SAVE_BLOB_JS, TRIGGER_JS
from coupadl.coupa.page import Attachment, PageKind, POPage, Trigger
from coupadl.errors import MachineFaultError, SessionExpiredError

PAGE_URL = "https://acme.coupahost.com/order_headers/15262984"
FILE_URL = "https://acme.coupahost.com/attachment/attachment_file/type/1/quote.pdf"

FAST = DownloadSettings(
    download_timeout=3.0,
    start_timeout=0.3,
    stall_timeout=0.3,
    max_attempts=3,
    poll_interval=0.01,
    page_check_interval=0.1,
    backoff_initial=0.0,
    backoff_max=0.0,
    mode=DownloadMode.BROWSER,  # these tests script the browser's own download path
)

Action = Callable[[Path], Any]


def attachment(key: str = FILE_URL, trigger: Trigger = Trigger.CLICK, ref: str = "0") -> Attachment:
    return Attachment(
        key=key, url=key, name_hint=key.rsplit("/", 1)[-1], trigger=trigger, ref=ref, form="button"
    )


def po_page(*attachments: Attachment, marker: str = "m1") -> POPage:
    return POPage(
        url=PAGE_URL, kind=PageKind.CONTENT, supplier="Acme", attachments=attachments, marker=marker
    )


def write(name: str, data: bytes) -> Action:
    return lambda staging: (staging / name).write_bytes(data)


def nothing(_staging: Path) -> None:
    return None


class FakeTab:
    """Plays the browser: each trigger runs the next scripted action against the staging folder."""

    def __init__(self, staging: Path, actions: list[Action], *, href: str = PAGE_URL) -> None:
        self.download_dir = staging
        self.actions = actions
        self.triggers: list[tuple[Any, ...]] = []
        self.fetches: list[tuple[Any, ...]] = []
        self.fetch_answers: list[dict[str, Any]] = []
        self.href = href
        self.on_page = True
        self.saved_blob_names: list[str] = []

    def run_js(self, script: str, *args: Any) -> Any:
        if script == TRIGGER_JS:
            self.triggers.append(args)
            if not self.on_page:
                return "stale"
            self.actions.pop(0)(self.download_dir)
            return "ok"
        if script == PAGE_CHECK_JS:
            return [self.on_page, self.href]
        if script == SAVE_BLOB_JS:
            self.saved_blob_names.append(args[0])
            self.actions.pop(0)(self.download_dir)
            return None
        return None  # revoking the blob

    def run_async_js(self, script: str, *args: Any, timeout: float = 30.0) -> Any:
        assert script == FETCH_JS
        self.fetches.append(args)
        return self.fetch_answers.pop(0)


def no_reload(page: POPage) -> POPage:
    raise AssertionError(f"unexpected reload of {page.url}")


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    path = tmp_path / "staging"
    path.mkdir()
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "out" / "Acme" / "PO15262984"


def test_completed_file_is_moved_hashed_and_staging_left_empty(staging: Path, folder: Path) -> None:
    tab = FakeTab(staging, [write("quote.pdf", b"%PDF-1.7 quote")])
    report = AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(
        po_page(attachment()), {}
    )
    assert [s.name for s in report.saved] == ["quote.pdf"]
    saved = report.saved[0]
    assert saved.key == FILE_URL
    assert saved.size == len(b"%PDF-1.7 quote")
    assert saved.sha256 == hashlib.sha256(b"%PDF-1.7 quote").hexdigest()
    assert saved.path == folder.resolve() / "quote.pdf"
    assert (folder / "quote.pdf").read_bytes() == b"%PDF-1.7 quote"
    assert report.failed == [] and report.downloaded == 1
    assert list(staging.iterdir()) == []
    assert tab.triggers == [("m1", "click", "0", FILE_URL)]


def test_a_file_still_being_written_is_waited_for(staging: Path, folder: Path) -> None:
    def slow(staging: Path) -> None:
        partial = staging / "big.pdf.crdownload"
        partial.write_bytes(b"x" * 10)

        def finish() -> None:
            for i in range(5):
                time.sleep(0.05)
                partial.write_bytes(b"x" * (10 + i))
            partial.write_bytes(b"y" * 100)
            partial.rename(staging / "big.pdf")

        threading.Thread(target=finish, daemon=True).start()

    tab = FakeTab(staging, [slow])
    report = AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(
        po_page(attachment()), {}
    )
    assert [(s.name, s.size) for s in report.saved] == [("big.pdf", 100)]
    assert len(tab.triggers) == 1


def test_stalled_partial_file_is_retried_and_its_leftover_deleted(staging: Path, folder: Path) -> None:
    tab = FakeTab(staging, [write("quote.pdf.crdownload", b"half"), write("quote.pdf", b"whole")])
    report = AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(
        po_page(attachment()), {}
    )
    assert [s.name for s in report.saved] == ["quote.pdf"]
    assert (folder / "quote.pdf").read_bytes() == b"whole"
    assert len(tab.triggers) == 2
    assert list(staging.iterdir()) == []


def test_download_that_never_starts_is_diagnosed_by_fetch_and_given_up(staging: Path, folder: Path) -> None:
    tab = FakeTab(staging, [nothing])
    tab.fetch_answers = [{"state": "http", "status": 503, "url": FILE_URL}] * 2
    settings = DownloadSettings(**{**FAST.__dict__, "max_attempts": 3})
    report = AttachmentDownloader(tab, folder, settings, reload=no_reload).download_page(
        po_page(attachment()), {}
    )
    assert report.saved == []
    assert len(report.failed) == 1
    assert "HTTP 503" in report.failed[0].reason
    assert len(tab.triggers) == 1 and len(tab.fetches) == 2  # max_attempts tries in all
    assert not folder.exists()
    assert list(staging.iterdir()) == []


def test_fetched_blob_is_saved_under_a_short_name_and_placed_under_the_server_name(
    staging: Path, folder: Path
) -> None:
    long_name = "A" * 300 + ".pdf"
    tab = FakeTab(staging, [nothing, write("A" * 196 + ".pdf", b"long")])
    disposition = f"attachment; filename=\"x.pdf\"; filename*=UTF-8''{long_name}"
    tab.fetch_answers = [{"state": "ok", "status": 200, "url": FILE_URL, "disposition": disposition}]
    report = AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(
        po_page(attachment()), {}
    )
    assert len(report.saved) == 1
    assert len(tab.saved_blob_names[0].encode()) <= 200
    name = report.saved[0].name
    assert name.endswith(".pdf") and name.startswith("AAAA") and len(name.encode()) == 255
    assert (folder / name).read_bytes() == b"long"


def test_tab_that_navigated_away_is_reloaded_and_the_attachment_found_again(
    staging: Path, folder: Path
) -> None:
    first = po_page(attachment(ref="0"), marker="m1")
    second = po_page(attachment(ref="7"), marker="m2")
    tab = FakeTab(staging, [])
    reloads: list[str] = []

    def reload(page: POPage) -> POPage:
        reloads.append(page.marker)
        tab.on_page, tab.href = True, PAGE_URL
        return second

    def navigate_away(_staging: Path) -> None:
        tab.on_page, tab.href = False, "https://acme.coupahost.com/comments/1"

    tab.actions = [navigate_away, write("quote.pdf", b"ok")]
    report = AttachmentDownloader(tab, folder, FAST, reload=reload).download_page(first, {})
    assert [s.name for s in report.saved] == ["quote.pdf"]
    assert reloads == ["m1"]
    assert [t[:3] for t in tab.triggers] == [("m1", "click", "0"), ("m2", "click", "7")]


def test_tab_sent_to_sign_in_raises_session_expired(staging: Path, folder: Path) -> None:
    tab = FakeTab(staging, [])

    def to_sso(_staging: Path) -> None:
        tab.on_page, tab.href = False, "https://login.microsoftonline.com/common/oauth2/authorize"

    tab.actions = [to_sso]
    with pytest.raises(SessionExpiredError) as caught:
        AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(po_page(attachment()), {})
    assert "login.microsoftonline.com" in caught.value.redirected_to


def test_sign_in_page_saved_as_the_file_raises_session_expired(staging: Path, folder: Path) -> None:
    html = b'<!DOCTYPE html><html><form action="/sessions"><input id="user_password" type="password"></form>'
    tab = FakeTab(staging, [write("new.html", html)])
    with pytest.raises(SessionExpiredError):
        AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(po_page(attachment()), {})
    assert list(staging.iterdir()) == []
    assert not folder.exists()


def test_an_html_attachment_is_not_mistaken_for_a_sign_in_page(staging: Path, folder: Path) -> None:
    html = b'<!DOCTYPE html><html><input type="password"></html>'
    key = "https://acme.coupahost.com/attachment/attachment_file/type/1/form.html"
    tab = FakeTab(staging, [write("form.html", html)])
    report = AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(
        po_page(attachment(key)), {}
    )
    assert [s.name for s in report.saved] == ["form.html"]


def test_already_saved_attachments_are_skipped_but_counted(staging: Path, folder: Path) -> None:
    other = "https://acme.coupahost.com/attachments/2/download"
    tab = FakeTab(staging, [write("invoice.pdf", b"inv")])
    page = po_page(attachment(), attachment(other, Trigger.LINK, "1"))
    report = AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(
        page, {FILE_URL: "quote.pdf"}
    )
    assert report.skipped == [(FILE_URL, "quote.pdf")]
    assert [s.name for s in report.saved] == ["invoice.pdf"]
    assert report.names == ["quote.pdf", "invoice.pdf"]
    assert report.downloaded == 2
    assert [t[1:] for t in tab.triggers] == [("link", "1", other)]


def test_identical_file_from_an_earlier_attempt_is_adopted_not_copied(staging: Path, folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "quote.pdf").write_bytes(b"same")
    (folder / "quote (2).pdf").write_bytes(b"other")
    tab = FakeTab(staging, [write("quote.pdf", b"same"), write("quote.pdf", b"same")])
    second = "https://acme.coupahost.com/attachments/2/download"
    page = po_page(attachment(), attachment(second, Trigger.LINK, "1"))
    report = AttachmentDownloader(tab, folder, FAST, reload=no_reload).download_page(page, {})
    # The first is the file already there; the second, identical one is another attachment: its own copy.
    assert [s.name for s in report.saved] == ["quote.pdf", "quote (3).pdf"]
    assert sorted(p.name for p in folder.iterdir()) == ["quote (2).pdf", "quote (3).pdf", "quote.pdf"]


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        DownloadSettings(max_attempts=0)
    with pytest.raises(ValueError, match="start_timeout"):
        DownloadSettings(start_timeout=0)


# --- a full disk ------------------------------------------------------------------------------------------


def test_a_stall_on_a_full_disk_stops_at_the_first_failed_try(staging: Path, folder: Path) -> None:
    """A browser download only stalls when the disk is full; the machine check after the failed try turns
    that into `MachineFaultError` at once (no retries, no failed PO), and the partial file is deleted."""
    tab = FakeTab(staging, [write("quote.pdf.crdownload", b"half"), write("quote.pdf", b"whole")])
    seen: list[list[str]] = []

    def disk_full() -> None:
        seen.append(sorted(p.name for p in staging.iterdir()))
        raise MachineFaultError("the disk holding /out is full (0.0 MB free)", folder="/out")

    downloader = AttachmentDownloader(tab, folder, FAST, reload=no_reload, check_machine=disk_full)
    with pytest.raises(MachineFaultError, match="is full"):
        downloader.download_page(po_page(attachment()), {})
    assert seen == [["quote.pdf.crdownload"]], "checked once, with the partial file still there"
    assert len(tab.triggers) == 1
    assert list(staging.iterdir()) == [], "the partial file is deleted on the way out"
    assert not folder.exists()


def test_a_machine_check_that_passes_lets_the_retries_go_on(staging: Path, folder: Path) -> None:
    tab = FakeTab(staging, [write("quote.pdf.crdownload", b"half"), write("quote.pdf", b"whole")])
    checks: list[int] = []
    downloader = AttachmentDownloader(
        tab, folder, FAST, reload=no_reload, check_machine=lambda: checks.append(1)
    )
    report = downloader.download_page(po_page(attachment()), {})
    assert [s.name for s in report.saved] == ["quote.pdf"]
    assert checks == [1]
