"""The Coupa job's side of the pool's seam: what a PO task carries to a worker and what comes back.

Both are frozen, picklable dataclasses (they cross to a spawned worker process and back). The pool carries
them without looking inside (`PersistentWorkerPool[POTask, POResult]`); `coupadl.coupa.job.process_po` is the
handler that takes a `POTask` and returns a `POResult`.
"""

from __future__ import annotations

from dataclasses import dataclass

from coupadl.coupa.po import PONumber, POStatus, SavedFile

__all__ = ["AlreadySaved", "POResult", "POTask"]


@dataclass(frozen=True)
class AlreadySaved:
    """An attachment an earlier attempt or run saved: its key and the file name it got in the PO folder."""

    key: str
    name: str


@dataclass(frozen=True)
class POTask:
    """One PO to process.

    Attributes:
        po: The PO number.
        url: Its page (`coupadl.coupa.po.po_url`).
        saved: What earlier attempts or runs saved; these are not downloaded again.
    """

    po: PONumber
    url: str
    saved: tuple[AlreadySaved, ...] = ()

    def saved_names(self) -> dict[str, str]:
        """`saved` as attachment key → saved file name."""
        return {s.key: s.name for s in self.saved if s.name}


@dataclass(frozen=True)
class POResult:
    """What processing one PO found and saved.

    Attributes:
        status: How it ended.
        coupa_url: The page it was judged on.
        supplier: The supplier the page names (empty when none was seen).
        attachments_found: Attachments seen on the PO (and its requisitions).
        attachments_downloaded: Of those, now in the PO folder (saved now or before).
        attachment_names: Their file names, in page order.
        download_folder: The PO folder (empty when nothing is in it).
        error: The evidence for every status but `COMPLETED`.
        files: The files saved by this call.
    """

    status: POStatus
    coupa_url: str
    supplier: str = ""
    attachments_found: int = 0
    attachments_downloaded: int = 0
    attachment_names: tuple[str, ...] = ()
    download_folder: str = ""
    error: str = ""
    files: tuple[SavedFile, ...] = ()
