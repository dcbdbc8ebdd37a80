"""`process_po` with a real headless Chromium against pages that behave like real tenants: attachments that
come late or never, not-found pages in other languages, redirects, HTTP 404/403/429, another PO's number.

Each test asserts the exact status and `error` (the row's ERROR_MESSAGE) the PO gets.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coupadl.browser.session import BrowserSession
from coupadl.coupa.job import JobOptions, process_po
from coupadl.coupa.task import POResult
from coupadl.errors import RetryableTaskError, ThrottledError
from coupadl.sandbox import Attachment, PurchaseOrder, Requisition, SandboxServer, Scenario
from support.po_tasks import po_task

pytestmark = [pytest.mark.browser]

Run = Callable[..., POResult]
NUMBER = "15262984"


@pytest.fixture
def run(session: BrowserSession, out_dir: Path) -> Run:
    """`run(server, number, **option overrides)` processes one PO in a fresh tab."""

    def go(server: SandboxServer, number: str = NUMBER, **overrides: Any) -> POResult:
        options: dict[str, Any] = {
            "base_url": server.base_url,
            "out_dir": str(out_dir),
            "page_load_timeout": 20.0,
            "download_timeout": 20.0,
            "download_start_timeout": 8.0,
            "max_download_attempts": 3,
            "retry_backoff": 0.1,
            "settle_quiet": 2.0,
            "settle_timeout": 8.0,
        }
        options.update(overrides)
        with session.open_tab(number, f"PO{number}") as tab:
            return process_po(tab, po_task(server, number), JobOptions.from_mapping(options))

    return go


def saved(result: POResult) -> dict[str, str]:
    folder = Path(result.download_folder)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def served(server: SandboxServer) -> dict[str, str]:
    return {f.name: f.sha256 for f in server.files()}


def file_requests(server: SandboxServer) -> list[str]:
    return [
        r.path for r in server.requests() if r.path.startswith("/attachment/") or r.path.endswith("/download")
    ]


# --- attachments that come late, or never ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "sign"),
    [(1.0, "placeholder"), (2.0, "spinner"), (3.0, "aria_busy"), (1.0, "none")],
)
def test_attachments_inserted_after_load_are_all_saved(
    sandbox_factory: Any, run: Run, delay: float, sign: str
) -> None:
    files = [
        Attachment("quote.pdf", size=30_000),
        Attachment("terms.pdf", size=9_000, form="anchor"),
        Attachment("mail.eml", size=4_000, form="role_button_ancestor"),
    ]
    po = PurchaseOrder(
        NUMBER, "Acme GmbH", attachments=files, attachments_delay_s=delay, attachments_loading=sign
    )  # type: ignore[arg-type]
    server = sandbox_factory(Scenario(pos=[po]))

    result = run(server)

    assert result.status == "COMPLETED"
    assert result.error == ""
    assert result.attachments_found == 3
    assert sorted(result.attachment_names) == ["mail.eml", "quote.pdf", "terms.pdf"]
    assert saved(result) == served(server)


@pytest.mark.parametrize(
    ("sign", "reason"),
    [
        ("placeholder", "'Loading attachments...' in #attachments"),
        ("spinner", "a spinner in #attachments"),
        ("aria_busy", "aria-busy on #attachments"),
    ],
)
def test_attachments_area_that_keeps_loading_is_retried_with_the_reason(
    sandbox_factory: Any, run: Run, out_dir: Path, sign: str, reason: str
) -> None:
    po = PurchaseOrder(
        NUMBER,
        attachments=[Attachment("quote.pdf")],
        attachments_forever=True,
        attachments_loading=sign,  # type: ignore[arg-type]
    )
    server = sandbox_factory(Scenario(pos=[po]))
    started = time.monotonic()

    with pytest.raises(RetryableTaskError) as info:
        run(server, settle_timeout=3.0)

    assert str(info.value) == f"attachments still loading after 3 s ({reason})"
    assert time.monotonic() - started >= 3.0
    assert file_requests(server) == []
    assert not out_dir.exists() or not any(out_dir.rglob("*.*"))


def test_no_attachments_only_after_the_quiet_time_and_it_says_so(sandbox_factory: Any, run: Run) -> None:
    server = sandbox_factory(Scenario(pos=[PurchaseOrder(NUMBER, "Initech")]))
    started = time.monotonic()

    result = run(server)

    assert time.monotonic() - started >= 2.0
    assert result.status == "NO_ATTACHMENTS"
    assert result.error == (
        f"PO {NUMBER}: settled (document complete, nothing loading, no attachment for 2 s); "
        "no requisition linked"
    )


def test_no_attachments_on_the_po_nor_its_requisition(sandbox_factory: Any, run: Run) -> None:
    po = PurchaseOrder(NUMBER, "Wayne Enterprises", requisition=Requisition("5001300"))
    server = sandbox_factory(Scenario(pos=[po]))

    result = run(server)

    assert result.status == "NO_ATTACHMENTS"
    assert result.error == (
        f"PO {NUMBER}: settled (document complete, nothing loading, no attachment for 2 s); "
        "requisition 5001300: settled (document complete, nothing loading, no attachment for 2 s)"
    )


def test_a_page_with_files_is_not_held_for_the_quiet_time(sandbox_factory: Any, run: Run) -> None:
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder(NUMBER, attachments=[Attachment("a.pdf", size=1000)])])
    )
    run(server)  # warm-up: the first page of a window is slower
    started = time.monotonic()
    result = run(server, settle_quiet=30.0)
    assert result.status == "COMPLETED"
    assert time.monotonic() - started < 30.0


# --- where the browser landed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("pt-BR", "Desculpe, não encontramos o que você procurava"),
        ("es", "Lo sentimos, no encontramos lo que buscaba"),
        ("fr", "Désolé, nous n'avons pas trouvé ce que vous cherchiez"),
        ("de", "Hoppla! Wir konnten nicht finden, wonach Sie gesucht haben"),
    ],
)
def test_unknown_po_in_another_language_is_not_found(
    sandbox_factory: Any, run: Run, out_dir: Path, language: str, text: str
) -> None:
    server = sandbox_factory(Scenario(pos=[], language=language))  # type: ignore[arg-type]
    result = run(server)
    assert result.status == "PO_NOT_FOUND"
    assert result.error == text
    assert not out_dir.exists()


def test_forbidden_po_in_pt_br_is_not_found(sandbox_factory: Any, run: Run) -> None:
    server = sandbox_factory(Scenario(pos=[PurchaseOrder(NUMBER, kind="forbidden", language="pt-BR")]))
    result = run(server)
    assert result.status == "PO_NOT_FOUND"
    assert result.error == "Você não está autorizado a acessar esta página"


@pytest.mark.parametrize(("kind", "status"), [("http_404", 404), ("http_403", 403)])
def test_http_404_and_403_are_not_found(sandbox_factory: Any, run: Run, kind: str, status: int) -> None:
    server = sandbox_factory(Scenario(pos=[PurchaseOrder(NUMBER, kind=kind)]))  # type: ignore[arg-type]
    result = run(server)
    assert result.status == "PO_NOT_FOUND"
    assert result.error == f"HTTP {status}"
    assert [r.status for r in server.requests() if r.path == f"/order_headers/{NUMBER}"] == [status]


def test_unknown_po_redirected_home_fails_with_where_it_landed(
    sandbox_factory: Any, run: Run, out_dir: Path
) -> None:
    server = sandbox_factory(Scenario(pos=[], unknown_po="redirect_home"))
    result = run(server)
    assert result.status == "FAILED"
    assert result.error == f"landed on /user/home, not PO {NUMBER}"
    assert result.download_folder == ""
    assert not out_dir.exists()


def test_a_page_showing_another_po_number_fails_and_saves_nothing(
    sandbox_factory: Any, run: Run, out_dir: Path
) -> None:
    po = PurchaseOrder(NUMBER, "Acme GmbH", attachments=[Attachment("quote.pdf")], shown_number="15262983")
    server = sandbox_factory(Scenario(pos=[po]))
    result = run(server)
    assert result.status == "FAILED"
    assert result.error == f"the page shows #15262983, not PO {NUMBER}"
    assert result.attachments_found == 0
    assert file_requests(server) == []
    assert not out_dir.exists()


def test_http_429_raises_throttled_with_the_sites_retry_after(sandbox_factory: Any, run: Run) -> None:
    po = PurchaseOrder(NUMBER, attachments=[Attachment("quote.pdf")], throttle_first=2, retry_after="7")
    server = sandbox_factory(Scenario(pos=[po]))

    with pytest.raises(ThrottledError) as info:
        run(server)
    assert info.value.retry_after_s == 7.0
    assert str(info.value) == f"{server.po_url(NUMBER)}: HTTP 429, retry after 7 s"
    # The header was read with one HEAD request: the navigation's headers are not visible to the page.
    page_hits = [(r.method, r.status) for r in server.requests() if r.path == f"/order_headers/{NUMBER}"]
    assert page_hits == [("GET", 429), ("HEAD", 429)]
    assert run(server).status == "COMPLETED"


def test_http_429_without_retry_after_backs_off(sandbox_factory: Any, run: Run) -> None:
    po = PurchaseOrder(NUMBER, throttle_first=5, retry_after=None)
    server = sandbox_factory(Scenario(pos=[po]))
    with pytest.raises(ThrottledError) as info:
        run(server, throttle_backoff=12.5)
    assert info.value.retry_after_s == 12.5


@pytest.mark.parametrize("files", [0, 1])
def test_loading_elsewhere_on_the_page_does_not_hold_it(sandbox_factory: Any, run: Run, files: int) -> None:
    attachments = [Attachment("quote.pdf")][:files]
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder(NUMBER, "Acme GmbH", attachments=attachments, busy_elsewhere=True)])
    )
    result = run(server, settle_timeout=4.0)
    assert result.status == ("COMPLETED" if files else "NO_ATTACHMENTS")
    if not files:
        assert result.error == (
            f"PO {NUMBER}: settled (document complete, nothing loading, no attachment for 2 s); "
            "no requisition linked"
        )
