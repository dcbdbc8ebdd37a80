"""The words of attachment downloads: how files are fetched, how long a try may take, what happened to a page.

`DownloadMode` and `DownloadSettings` go in, `DownloadReport` (with its `FailedDownload`s and the saved
`coupadl.coupa.po.SavedFile`s) comes out of `coupadl.coupa.downloads.AttachmentDownloader`; `TryFailed` is how
one try of one file tells the downloader that another try may fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from coupadl.coupa.attachments import Attachment
from coupadl.coupa.po import SavedFile

__all__ = ["DownloadMode", "DownloadReport", "DownloadSettings", "FailedDownload", "TryFailed"]


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


class TryFailed(Exception):
    """One try of one download failed in a way another try may fix.

    Attributes:
        reason: What went wrong, for the log and the PO's error.
        page_gone: The tab left the PO page: it must be opened again before the next try.
        no_start: No download started (the next in-page try fetches the file in the page instead).
    """

    def __init__(self, reason: str, *, page_gone: bool = False, no_start: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.page_gone = page_gone
        self.no_start = no_start
