"""`process_po` with a real headless Chromium against the sandbox: every outcome a PO can have."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.session import BrowserSession
from coupadl.coupa.downloads import AttachmentDownloader, DownloadSettings
from coupadl.coupa.job import JobOptions, open_page, process_po
from coupadl.coupa.page import Expected
from coupadl.coupa.task import POResult
from coupadl.errors import MachineFaultError, RetryableTaskError, SessionExpiredError
from coupadl.sandbox import Attachment, PurchaseOrder, Requisition, SandboxServer, Scenario
from support.po_tasks import po_task
from support.tmpfs import fill, small_disk

pytestmark = [pytest.mark.browser]

Run = Callable[..., POResult]


def options(server: SandboxServer, out_dir: Path, **overrides: Any) -> JobOptions:
    base: dict[str, Any] = {
        "base_url": server.base_url,
        "out_dir": str(out_dir),
        "page_load_timeout": 20.0,
        "download_timeout": 20.0,
        "download_start_timeout": 8.0,  # generous: a loaded machine must not cause extra tries
        "max_download_attempts": 3,
        "requisition_fallback": True,
        "retry_backoff": 0.1,
    }
    base.update(overrides)
    return JobOptions.from_mapping(base)


@pytest.fixture
def run(session: BrowserSession, out_dir: Path) -> Run:
    """`run(server, number, saved=None, **option overrides)` processes one PO in a fresh tab."""

    def go(
        server: SandboxServer, number: str, saved: dict[str, str] | None = None, **overrides: Any
    ) -> POResult:
        with session.open_tab(number, f"PO{number}") as tab:
            result = process_po(tab, po_task(server, number, saved), options(server, out_dir, **overrides))
        assert list(session.download_dir.iterdir()) == [], "the staging folder must be left empty"
        return result

    return go


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_files(result: POResult) -> dict[str, str]:
    """Name → SHA-256 of every entry in the PO folder."""
    folder = Path(result.download_folder)
    assert folder.is_absolute()
    return {p.name: sha256(p) for p in folder.iterdir()}


def file_requests(server: SandboxServer) -> list[str]:
    return [
        r.path
        for r in server.requests()
        if r.path.startswith(("/attachment/attachment_file/", "/storage/")) or r.path.endswith("/download")
    ]


# --- every form, decoys left alone ----------------------------------------------------------------


def test_every_attachment_form_is_saved_with_the_served_bytes(sandbox_factory: Any, run: Run) -> None:
    forms = ["button_span", "anchor", "anchor_download_attr", "data_url", "filename_query"]
    attachments = [Attachment(f"{form}.pdf", size=30_000 + i, form=form) for i, form in enumerate(forms)]  # type: ignore[arg-type]
    attachments.append(Attachment("via storage.zip", size=25_000, form="anchor", redirect=True))
    attachments.append(Attachment("terms.pdf", size=9_000, label="=" * 60))
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262984", "Acme GmbH", attachments=attachments)]))

    result = run(server, "15262984")

    served = {f.name: f.sha256 for f in server.files()}
    assert result.status == "COMPLETED"
    assert result.supplier == "Acme GmbH"
    assert result.attachments_found == len(attachments)
    assert result.attachments_downloaded == len(attachments)
    assert list(result.attachment_names) == [a.name for a in attachments]  # page order
    assert result.error == ""
    assert result.coupa_url == server.po_url("15262984")
    assert Path(result.download_folder).parts[-2:] == ("Acme GmbH", "PO15262984")
    assert folder_files(result) == served  # nothing else in the folder
    assert {f.name: f.sha256 for f in result.files} == served
    assert {f.name: f.size for f in result.files} == {f.name: f.size for f in server.files()}
    assert len({f.key for f in result.files}) == len(attachments)
    # Decoys: the "show" pages, the help manual, the comment's data-url and the other order were never opened.
    paths = [r.path for r in server.requests()]
    assert not [
        p
        for p in paths
        if p.startswith(("/attachments/", "/help", "/comments")) and not p.endswith("/download")
    ]
    assert "/order_headers/15262983" not in paths
    assert len(file_requests(server)) == len(attachments) + 1  # the redirect costs one extra request


def test_duplicate_names_on_one_po_are_both_kept(sandbox_factory: Any, run: Run) -> None:
    server = sandbox_factory(
        Scenario(
            pos=[
                PurchaseOrder(
                    "15262991",
                    "Globex Corporation",
                    attachments=[
                        Attachment("quote.pdf", size=11_000),
                        Attachment("quote.pdf", size=13_000, form="anchor"),
                    ],
                )
            ]
        )
    )
    result = run(server, "15262991")
    assert result.status == "COMPLETED"
    assert list(result.attachment_names) == ["quote.pdf", "quote (2).pdf"]
    first, second = server.files()
    assert folder_files(result) == {"quote.pdf": first.sha256, "quote (2).pdf": second.sha256}


AWKWARD = [
    "../../etc/passwd.pdf",
    "scans/2024\\march.pdf",
    "CON.txt",
    "nul",
    "Übersicht Preise – 2024 (final) 東京.pdf",
    "A" * 300 + ".pdf",
    'report "final" <v2>: draft?.docx',
    "trailing dot. ",
    "..",
]


def test_awkward_server_names_are_saved_safely_inside_the_po_folder(
    sandbox_factory: Any, run: Run, out_dir: Path
) -> None:
    forms = ["button_span", "anchor", "anchor_download_attr", "data_url", "filename_query"]
    attachments = [Attachment(name, size=1_000 + i, form=forms[i % 5]) for i, name in enumerate(AWKWARD)]  # type: ignore[arg-type]
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder("15262992", "Müller & Söhne KG", attachments=attachments)])
    )

    # Chromium cannot save a name over ~244 bytes itself (its `.crdownload` name would pass 255): the
    # fetch-and-save fallback after the first try takes over.
    result = run(server, "15262992", download_start_timeout=2.0)

    assert result.status == "COMPLETED"
    folder = Path(result.download_folder)
    saved = folder_files(result)
    assert sorted(saved.values()) == sorted(f.sha256 for f in server.files())
    every_file = [p for p in out_dir.rglob("*") if p.is_file()]
    assert len(every_file) == len(AWKWARD)
    reserved = {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}
    for name in saved:
        assert (folder / name).resolve().parent == folder.resolve()
        assert "/" not in name and "\\" not in name and name not in (".", "..")
        assert not set('<>:"|?*') & set(name)
        assert not name.endswith((" ", "."))
        assert name.split(".")[0].upper() not in reserved
        assert len(name.encode()) <= 255
    assert "Übersicht Preise – 2024 (final) 東京.pdf" in saved
    assert sorted(result.attachment_names) == sorted(saved)


# --- outcomes without downloads -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["not_found", "forbidden", "unknown"])
def test_missing_or_forbidden_po_is_not_found_without_a_folder(
    sandbox_factory: Any, run: Run, out_dir: Path, kind: str
) -> None:
    pos = [] if kind == "unknown" else [PurchaseOrder("15262996", kind=kind)]  # type: ignore[arg-type]
    server = sandbox_factory(Scenario(pos=pos))
    result = run(server, "15262996")
    assert result.status == "PO_NOT_FOUND"
    assert result.error
    assert result.download_folder == ""
    assert result.attachments_found == 0
    assert result.files == ()
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_po_without_attachments(sandbox_factory: Any, run: Run, out_dir: Path) -> None:
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262989", "Stark Industries")]))
    result = run(server, "15262989")
    assert result.status == "NO_ATTACHMENTS"
    assert result.supplier == "Stark Industries"
    assert result.download_folder == ""
    assert not out_dir.exists() or not any(out_dir.iterdir())
    assert file_requests(server) == []


def test_requisition_fallback_takes_the_requisitions_files(sandbox_factory: Any, run: Run) -> None:
    requisition = Requisition(
        "5001234",
        attachments=[
            Attachment("approved request.pdf", size=25_000),
            Attachment("budget.xlsx", form="anchor"),
        ],
    )
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder("15262990", "Wayne Enterprises", requisition=requisition)])
    )

    result = run(server, "15262990")

    assert result.status == "COMPLETED"
    assert list(result.attachment_names) == ["approved request.pdf", "budget.xlsx"]
    assert Path(result.download_folder).parts[-2:] == ("Wayne Enterprises", "PO15262990")
    assert folder_files(result) == {f.name: f.sha256 for f in server.files()}


def test_requisition_leading_elsewhere_fails_the_po_with_the_files_already_saved(
    sandbox_factory: Any, run: Run
) -> None:
    """The second requisition's link lands on the home page: its files cannot be told from another record's,
    so the PO is FAILED, but the first requisition's files, saved already, are in the result (and so in the
    progress store: a rerun does not fetch them again)."""
    first = Requisition("5001234", attachments=[Attachment("approved request.pdf", size=25_000)])
    elsewhere = Requisition("5001235", attachments=[Attachment("never.pdf")], redirect_home=True)
    po = PurchaseOrder("15262990", "Wayne Enterprises", requisition=first, more_requisitions=[elsewhere])
    server = sandbox_factory(Scenario(pos=[po]))

    result = run(server, "15262990")

    assert result.status == "FAILED"
    assert "requisition 5001235" in result.error and "/user/home" in result.error
    served = {f.name: f.sha256 for f in server.files() if f.owner_number == "5001234"}
    assert [(f.name, f.sha256) for f in result.files] == list(served.items())
    assert list(result.attachment_names) == ["approved request.pdf"]
    assert (result.attachments_found, result.attachments_downloaded) == (1, 1)
    assert folder_files(result) == served
    assert result.supplier == "Wayne Enterprises"


def test_requisition_fallback_can_be_turned_off(sandbox_factory: Any, run: Run) -> None:
    requisition = Requisition("5001234", attachments=[Attachment("approved request.pdf")])
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262990", requisition=requisition)]))
    result = run(server, "15262990", requisition_fallback=False)
    assert result.status == "NO_ATTACHMENTS"
    assert not [r for r in server.requests() if r.path.startswith("/requisition_headers/")]


def test_po_with_files_does_not_visit_its_requisition(sandbox_factory: Any, run: Run) -> None:
    requisition = Requisition("5001234", attachments=[Attachment("approved request.pdf")])
    po = PurchaseOrder("15262990", attachments=[Attachment("quote.pdf")], requisition=requisition)
    server = sandbox_factory(Scenario(pos=[po]))
    result = run(server, "15262990")
    assert list(result.attachment_names) == ["quote.pdf"]
    assert not [r for r in server.requests() if r.path.startswith("/requisition_headers/")]


# --- failing downloads ----------------------------------------------------------------------------


def test_file_that_fails_first_is_saved_after_a_retry(sandbox_factory: Any, run: Run) -> None:
    flaky = [
        Attachment("unstable.pdf", size=40_000, fail_first=1),
        Attachment("shaky.pdf", form="anchor", fail_first=2),
    ]
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262994", "Flaky Systems", attachments=flaky)]))
    result = run(server, "15262994", download_start_timeout=1.5)
    assert result.status == "COMPLETED"
    assert folder_files(result) == {f.name: f.sha256 for f in server.files()}
    statuses = [r.status for r in server.requests() if r.path.startswith(("/attachment/", "/attachments/"))]
    assert statuses.count(503) == 3


def test_file_that_keeps_failing_makes_the_po_partial(sandbox_factory: Any, run: Run) -> None:
    files = [Attachment("good.pdf"), Attachment("broken.pdf", form="anchor", fail_first=99)]
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262994", attachments=files)]))
    result = run(server, "15262994", max_download_attempts=2, download_start_timeout=1.5)
    assert result.status == "PARTIAL"
    assert result.attachments_found == 2
    assert result.attachments_downloaded == 1
    assert list(result.attachment_names) == ["good.pdf"]
    assert "broken.pdf" in result.error
    assert "good.pdf" not in result.error
    assert set(folder_files(result)) == {"good.pdf"}
    broken = [r for r in server.requests() if r.status == 503]
    assert len(broken) == 2  # max_download_attempts


def test_po_whose_files_all_fail_is_retried_by_the_pool(sandbox_factory: Any, run: Run) -> None:
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder("15262994", attachments=[Attachment("x.pdf", fail_first=99)])])
    )
    with pytest.raises(RetryableTaskError, match=r"x\.pdf"):
        run(server, "15262994", max_download_attempts=2, download_start_timeout=1.5)


def test_slow_download_is_waited_for(sandbox_factory: Any, run: Run) -> None:
    slow = Attachment("large scan.pdf", size=200_000, delay_s=2.5)
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262993", attachments=[slow])]))
    # The partial file keeps growing, so a start and stall timeout shorter than the transfer do not matter.
    result = run(server, "15262993", download_start_timeout=1.0)
    assert result.status == "COMPLETED"
    assert folder_files(result) == {"large scan.pdf": server.files()[0].sha256}
    assert len(file_requests(server)) == 1


# --- sign-in ---------------------------------------------------------------------------------------


def test_signed_out_browser_raises_session_expired_not_not_found(
    sandbox_factory: Any, launch_config: LaunchConfig, short_tmp: Path, out_dir: Path
) -> None:
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder("15262984", attachments=[Attachment("quote.pdf")])], sso_host="localhost")
    )
    browser = BrowserSession.start(launch_config, short_tmp / "fresh", "Default", short_tmp / "dl2")
    try:
        with browser.open_tab("t") as tab, pytest.raises(SessionExpiredError) as caught:
            process_po(tab, po_task(server, "15262984"), options(server, out_dir))
    finally:
        browser.quit()
    assert "sessions/new" in caught.value.redirected_to or "sso" in caught.value.redirected_to
    assert not out_dir.exists()


def test_session_expired_mid_run_raises_session_expired(
    sandbox_factory: Any, run: Run, out_dir: Path
) -> None:
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262984", attachments=[Attachment("quote.pdf")])]))
    assert run(server, "15262984").status == "COMPLETED"
    server.expire_all_sessions()
    with pytest.raises(SessionExpiredError):
        run(server, "15262996")  # an unknown PO: still never "not found" while signed out


def test_session_expiring_between_page_and_file_is_noticed(
    sandbox_factory: Any, session: BrowserSession, out_dir: Path
) -> None:
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262984", attachments=[Attachment("quote.pdf")])]))
    folder = out_dir / "po"
    with session.open_tab("t") as tab:
        url = server.po_url("15262984")
        wanted = Expected(url=url, number="15262984", what="PO 15262984")
        page = open_page(tab, url, timeout=20, po_digits="15262984", expected=wanted)
        server.expire_all_sessions()
        downloader = AttachmentDownloader(
            tab, folder, DownloadSettings(start_timeout=3), reload=lambda p: pytest.fail("no reload expected")
        )
        with pytest.raises(SessionExpiredError):
            downloader.download_page(page, {})
    assert not folder.exists() or not any(folder.iterdir())  # the sign-in page was not kept as "quote.pdf"
    assert list(session.download_dir.iterdir()) == []


# --- reruns ---------------------------------------------------------------------------------------


def test_rerun_with_saved_map_downloads_nothing_again(sandbox_factory: Any, run: Run) -> None:
    files = [Attachment("quote.pdf"), Attachment("invoice.pdf", form="anchor")]
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262984", attachments=files)]))
    first = run(server, "15262984")
    saved = {f.key: f.name for f in first.files}
    before = len(file_requests(server))

    again = run(server, "15262984", saved=saved)

    assert len(file_requests(server)) == before
    assert again.status == "COMPLETED"
    assert again.attachments_downloaded == 2
    assert list(again.attachment_names) == ["quote.pdf", "invoice.pdf"]
    assert again.files == ()
    assert set(folder_files(again)) == {"quote.pdf", "invoice.pdf"}


def test_rerun_after_a_lost_result_keeps_one_copy(sandbox_factory: Any, run: Run) -> None:
    """A file saved by an attempt whose result was lost (e.g. the session expired) is not copied twice."""
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262984", attachments=[Attachment("quote.pdf")])]))
    first = run(server, "15262984")
    again = run(server, "15262984")  # no saved map: the progress store never heard of the first file
    assert again.status == "COMPLETED"
    assert list(again.attachment_names) == ["quote.pdf"]
    assert again.files == first.files
    assert set(folder_files(again)) == {"quote.pdf"}


def test_rerun_after_partial_saves_only_the_missing_file(sandbox_factory: Any, run: Run) -> None:
    files = [Attachment("good.pdf"), Attachment("late.pdf", form="anchor", fail_first=2)]
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262984", attachments=files)]))
    first = run(server, "15262984", max_download_attempts=2, download_start_timeout=1.5)
    assert first.status == "PARTIAL"
    saved = {f.key: f.name for f in first.files}

    again = run(server, "15262984", saved=saved)

    assert again.status == "COMPLETED"
    assert list(again.attachment_names) == ["good.pdf", "late.pdf"]
    assert [f.name for f in again.files] == ["late.pdf"]
    assert folder_files(again) == {f.name: f.sha256 for f in server.files()}


# --- a full disk --------------------------------------------------------------------------------------------


def test_a_full_disk_raises_machine_fault_instead_of_failing_the_po(
    sandbox_factory: Any, session: BrowserSession
) -> None:
    big = Attachment("drawing.pdf", size=1_500_000, form="anchor")
    server = sandbox_factory(Scenario(pos=[PurchaseOrder("15262984", "Acme GmbH", attachments=[big])]))
    with small_disk("2m") as disk:
        out, staging = disk / "out", disk / "staging"
        out.mkdir()
        staging.mkdir()
        session.set_download_dir(staging)
        fill(disk, leave=300_000)
        started = time.monotonic()
        with session.open_tab("15262984", "PO15262984") as tab, pytest.raises(MachineFaultError) as caught:
            process_po(tab, po_task(server, "15262984"), options(server, out, max_download_attempts=3))
        assert f"the disk holding {out} is full" in str(caught.value)
        assert time.monotonic() - started < 30, "stopped at the first failed try, not after every retry"
        assert list(staging.iterdir()) == [], "the partial download is deleted"
        assert not [p for p in out.rglob("*") if p.is_file()], "nothing under a final name"
