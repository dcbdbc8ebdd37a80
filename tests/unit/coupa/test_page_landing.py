"""Where the browser landed, how the page settled, what a 429 asks for, and the wider attachment shapes
(pure judging, no browser)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from coupadl.cli.wiring import handler_options
from coupadl.coupa.job import JobOptions
from coupadl.coupa.page import (
    ERROR_TEXTS,
    Expected,
    PageKind,
    Settle,
    Trigger,
    classify_page,
    is_file_url,
    parse_retry_after,
)
from coupadl.errors import ConfigError, PermanentTaskError, TaskError, ThrottledError
from coupadl.settings import DEFAULT_PAGE_ERROR_TEXTS, Settings, load_settings
from support.probe_facts import HOST, PAGE, PO, item, raw_page


def judge(**overrides: Any) -> Any:
    return classify_page(raw_page(**overrides), po_digits="15262984", expected=PO)


# --- where the browser landed ---------------------------------------------------------------------------


def test_the_asked_for_page_is_content() -> None:
    page = judge()
    assert page.kind is PageKind.CONTENT
    assert page.error_text == ""


@pytest.mark.parametrize(
    "url",
    [PAGE + "/", PAGE + "?x=1", PAGE + "#attachments", "https://ACME.coupahost.com/order_headers/15262984"],
)
def test_the_same_page_with_a_slash_query_or_fragment_is_the_page(url: str) -> None:
    assert judge(url=url).kind is PageKind.CONTENT


def test_redirected_home_is_a_wrong_page_naming_where() -> None:
    page = judge(
        url=f"{HOST}/user/home", title="Home | Coupa", headings=["Welcome back, Sandbox User"], numbers=[],
        suppliers=[],
    )  # fmt: skip
    assert page.kind is PageKind.WRONG_PAGE
    assert page.error_text == "landed on /user/home, not PO 15262984"
    assert page.attachments == ()


def test_another_record_is_a_wrong_page_even_with_files() -> None:
    other = f"{HOST}/order_headers/15262983"
    page = judge(url=other, items=[item(f"{HOST}/attachments/1/download")])
    assert page.kind is PageKind.WRONG_PAGE
    assert page.error_text == "landed on /order_headers/15262983, not PO 15262984"
    assert page.attachments == ()


def test_another_host_is_named_with_its_host() -> None:
    page = judge(url="https://other.example/order_headers/15262984")
    assert page.error_text == "landed on https://other.example/order_headers/15262984, not PO 15262984"


def test_a_page_showing_another_po_number_is_a_wrong_page() -> None:
    page = judge(
        title="Purchase Order #15262983 | Coupa",
        headings=["Purchase Order #15262983"],
        numbers=["15262983"],
        items=[item(f"{HOST}/attachments/1/download")],
    )
    assert page.kind is PageKind.WRONG_PAGE
    assert page.error_text == "the page shows #15262983, not PO 15262984"
    assert page.attachments == ()


def test_po_prefixed_numbers_count_as_shown() -> None:
    page = judge(title="PO15262985 - Coupa", headings=[], numbers=[])
    assert page.error_text == "the page shows #15262985, not PO 15262984"


def test_a_page_showing_no_number_is_judged_by_its_address() -> None:
    assert judge(title="Coupa", headings=["Order"], numbers=[]).kind is PageKind.CONTENT


def test_other_digits_in_the_header_are_not_a_po_number() -> None:
    # A date or amount in a heading is not "#<digits>" or "PO<digits>".
    assert judge(headings=["Purchase Order #15262984 issued 20240101"]).kind is PageKind.CONTENT


def test_a_requisition_is_checked_against_its_own_number() -> None:
    url = f"{HOST}/requisition_headers/5001234"
    wanted = Expected(url=url, number="5001234", what="requisition 5001234")
    raw = raw_page(
        url=url, title="Requisition #5001234 | Coupa", headings=["Requisition #5001234"], numbers=[]
    )
    assert classify_page(raw, expected=wanted).kind is PageKind.CONTENT
    elsewhere = classify_page(raw_page(url=f"{HOST}/user/home", numbers=[]), expected=wanted)
    assert elsewhere.error_text == "landed on /user/home, not requisition 5001234"


@pytest.mark.parametrize("status", [404, 403])
def test_http_404_and_403_are_not_found(status: int) -> None:
    page = judge(status=status, suppliers=[], headings=[], title="Coupa")
    assert page.kind is PageKind.NOT_FOUND
    assert page.error_text == f"HTTP {status}"


def test_http_429_is_throttled() -> None:
    page = judge(status=429, suppliers=[], headings=[], body=17)
    assert page.kind is PageKind.THROTTLED
    assert page.error_text == "HTTP 429"


def test_http_5xx_is_a_server_error() -> None:
    assert judge(status=502).kind is PageKind.SERVER_ERROR


def test_another_status_at_the_right_address_is_a_wrong_page() -> None:
    page = judge(status=410)
    assert page.kind is PageKind.WRONG_PAGE
    assert page.error_text == "HTTP 410"


@pytest.mark.parametrize("status", [200, 403, 404])
def test_an_error_text_elsewhere_is_a_wrong_page_never_not_found(status: int) -> None:
    # A same-host page an expired session is sent to, showing Coupa's not-found flash: not proof of anything.
    oops = "Oops! We couldn't find what you wanted."
    page = judge(url=f"{HOST}/user/home", status=status, errors=[oops], headings=["Oops!"], suppliers=[])
    assert page.kind is PageKind.WRONG_PAGE
    assert page.error_text == f"landed on /user/home, not PO 15262984 ({oops})"


def test_a_server_error_elsewhere_is_retried_naming_where() -> None:
    page = judge(url=f"{HOST}/user/home", status=503, headings=["Down for maintenance"], suppliers=[])
    assert page.kind is PageKind.SERVER_ERROR
    assert page.error_text == "Down for maintenance (landed on /user/home, not PO 15262984)"


# --- error boxes in every language ---------------------------------------------------------------------

SITE_TEXTS = {
    "en": ["Oops! We couldn't find what you wanted", "You do not have permission to view this order"],
    "pt-BR": [
        "Desculpe, não encontramos o que você procurava",
        "Você não está autorizado a acessar esta página",
    ],
    "es": ["Lo sentimos, no encontramos lo que buscaba", "No está autorizado para acceder a esta página"],
    "fr": [
        "Désolé, nous n'avons pas trouvé ce que vous cherchiez",
        "Vous n'êtes pas autorisé à accéder à cette page",
    ],
    "de": [
        "Hoppla! Wir konnten nicht finden, wonach Sie gesucht haben",
        "Sie sind nicht berechtigt, diese Seite aufzurufen",
    ],
}


@pytest.mark.parametrize(("language", "text"), [(lang, t) for lang, ts in SITE_TEXTS.items() for t in ts])
def test_error_boxes_in_every_default_language_are_not_found(language: str, text: str) -> None:
    assert language in DEFAULT_PAGE_ERROR_TEXTS
    # Only at the PO's own address: the same text after a redirect home proves nothing.
    page = judge(errors=[text], headings=[], suppliers=[], numbers=[])
    assert page.kind is PageKind.NOT_FOUND, (language, text)
    assert page.error_text == text
    elsewhere = judge(url=f"{HOST}/user/home", errors=[text], headings=[], suppliers=[], numbers=[])
    assert elsewhere.kind is PageKind.WRONG_PAGE, (language, text)


def test_every_default_language_is_in_the_default_texts() -> None:
    assert set(DEFAULT_PAGE_ERROR_TEXTS) == {"en", "pt-BR", "es", "fr", "de"}
    assert "Desculpe, não encontramos o que você procurava" in ERROR_TEXTS
    settings = Settings()
    assert settings.page_error_texts["pt-BR"] == DEFAULT_PAGE_ERROR_TEXTS["pt-BR"]


def test_the_error_texts_are_a_setting() -> None:
    settings = Settings(page_error_texts={"nl": ("Oeps! We konden niet vinden",)})
    texts = [t for ts in settings.page_error_texts.values() for t in ts]
    raw = raw_page(errors=["Oeps! We konden niet vinden wat u zocht"], headings=[], suppliers=[])
    assert classify_page(raw, error_texts=texts, expected=PO).kind is PageKind.NOT_FOUND
    assert classify_page(raw, expected=PO).kind is PageKind.CONTENT  # not a default text


# --- settling ----------------------------------------------------------------------------------------


def test_settle_facts_are_read_from_the_script() -> None:
    page = judge(settle={"settled": False, "loading": ["aria-busy on #attachments"], "quiet_ms": 1200,
                         "waited_ms": 10004})  # fmt: skip
    assert page.settle == Settle(False, ("aria-busy on #attachments",), 1.2, 10.004, "complete")
    assert page.settle.reason(10) == "attachments still loading after 10 s (aria-busy on #attachments)"


def test_unsettled_reasons_name_what_was_seen() -> None:
    assert Settle(False, (), 0.1, 15.0, "interactive").reason(15) == (
        "page still loading after 15 s (document interactive)"
    )
    assert Settle(False, (), 0.1, 15.0).reason(15) == "attachments still changing after 15 s"


def test_a_probe_without_settle_facts_counts_as_settled_when_complete() -> None:
    assert judge().settle.settled
    assert not judge(ready="loading").settle.settled


# --- Retry-After -------------------------------------------------------------------------------------


def test_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 120 ") == 120.0
    assert parse_retry_after("Mon, 30 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 30 Nov 2026 11:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None


def test_throttled_error_is_a_task_error_carrying_the_wait() -> None:
    exc = ThrottledError("HTTP 429", retry_after_s=2)
    assert isinstance(exc, TaskError)
    assert exc.retry_after_s == 2.0
    assert ThrottledError("x", retry_after_s=-3).retry_after_s == 0.0


# --- job options -------------------------------------------------------------------------------------


def test_job_options_carry_the_page_settings() -> None:
    opts = JobOptions.from_mapping(
        {"base_url": HOST, "out_dir": "/tmp/x", "settle_quiet": 1.5, "settle_timeout": 9,
         "error_texts": ["Oeps"], "loading_texts": ["Laden"], "throttle_backoff": 7,
         "throttle_max_wait": 60}
    )  # fmt: skip
    assert (opts.settle_quiet, opts.settle_timeout) == (1.5, 9.0)
    assert opts.error_texts == ("Oeps",) and opts.loading_texts == ("Laden",)
    assert (opts.throttle_backoff, opts.throttle_max_wait) == (7.0, 60.0)
    defaults = JobOptions.from_mapping({"base_url": HOST, "out_dir": "/tmp/x"})
    assert defaults.error_texts == ERROR_TEXTS
    with pytest.raises(PermanentTaskError):
        JobOptions.from_mapping({"base_url": HOST, "out_dir": "/tmp/x", "error_texts": "Oops"})


# --- wider attachment discovery ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"{HOST}/attachment/attachment_file/file/1270815590/example.eml",
        f"{HOST}/attachments/1270815590/download",
        f"{HOST}/documents/get?file=quote.pdf",
        f"{HOST}/files/fetch?name=contract",
        f"{HOST}/anything?name=quote.pdf",
        f"{HOST}/export?filename=x.pdf",
        "https://storage.example.net/b/abc?response-content-disposition=attachment%3B%20filename%3Dq.pdf&sig=1",
        f"{HOST}/blob/1?disposition=attachment",
    ],
)
def test_file_url_shapes_from_real_tenants(url: str) -> None:
    assert is_file_url(url, PAGE, po_digits="15262984")


@pytest.mark.parametrize(
    ("url", "explicit"),
    [
        (f"{HOST}/attachments/1270815590", False),  # the attachment's "show" route
        (f"{HOST}/attachments/1270815590?name=example.eml", False),  # a show route with a name
        ("mailto:buyer@example.com?subject=PO15262984&name=quote.pdf", True),
        (f"{HOST}/order_headers/15262984/print.pdf", True),  # the PO's own printable summary
        (f"{HOST}/order_headers/15262984.pdf?disposition=attachment", False),
        (f"{HOST}/order_headers/15262984/print?filename=PO15262984.pdf", False),
        (f"{HOST}/suppliers?name=Acme", False),  # a search, not a file
        (f"{HOST}/user/home?file=", False),
    ],
)
def test_decoys_stay_ignored(url: str, explicit: bool) -> None:
    assert not is_file_url(url, PAGE, po_digits="15262984", explicit_download=explicit)


def test_decoys_on_a_page_leave_it_without_attachments() -> None:
    page = judge(
        items=[
            item(f"{HOST}/attachments/1270815590", "data_url", "0"),
            item("mailto:buyer@example.com", "anchor", "1", label="Mail the buyer"),
            item(f"{HOST}/order_headers/15262984/print.pdf", "anchor", "2", download="", label="Print"),
        ]
    )
    assert page.kind is PageKind.CONTENT
    assert page.attachments == ()


def test_role_button_with_the_url_on_an_ancestor_is_clicked() -> None:
    url = f"{HOST}/attachment/attachment_file/file/1270815590/example.eml"
    page = judge(items=[item(url, "button", "7", aria="example.eml file attachment", label="example.eml")])
    (attachment,) = page.attachments
    assert attachment.trigger is Trigger.CLICK
    assert attachment.ref == "7"
    assert attachment.name_hint == "example.eml"


def test_page_settings_come_from_the_config_file_and_reach_the_job(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'settle_quiet = 1.5\nsettle_timeout = 9\n[page_error_texts]\nen = ["Oops"]\n'
        'nl = ["Oeps! We konden"]\n',
        encoding="utf-8",
    )
    settings = load_settings({"config": str(config), "base_url": HOST})
    assert settings.page_error_texts == {"en": ("Oops",), "nl": ("Oeps! We konden",)}
    opts = JobOptions.from_mapping(handler_options(settings, tmp_path))
    assert opts.error_texts == ("Oops", "Oeps! We konden")
    assert (opts.settle_quiet, opts.settle_timeout) == (1.5, 9.0)
    with pytest.raises(ConfigError, match="settle-timeout"):
        load_settings({"settle_timeout": 0})
