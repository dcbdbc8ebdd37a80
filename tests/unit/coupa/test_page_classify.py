"""Judging what the page probe saw: error pages, supplier, attachments, decoys, requisitions (no browser)."""

from __future__ import annotations

from typing import Any

import pytest

from coupadl.coupa.page import (
    ERROR_TEXTS,
    PageKind,
    POPage,
    Trigger,
    best_name_hint,
    is_file_url,
)
from coupadl.coupa.page import classify_page as judge_page
from support.probe_facts import HOST, PAGE, PO, item, raw_page


def classify_page(raw: dict[str, Any], **options: Any) -> POPage:
    """The PO page `raw_page` shows, judged as the task that asked for it would."""
    return judge_page(raw, expected=PO, **options)


FILE = f"{HOST}/attachment/attachment_file/type/1270815590/example.eml"


# --- error pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "headings"),
    [
        (["Oops! We couldn't find what you wanted"], ["Oops"]),
        (["You are not authorized to view this page"], ["Access denied"]),
        ([], ["Access denied"]),
        (["The page you were looking for doesn't exist."], []),
        ([], ["Sorry, this order is not available to you"]),
        ([], ["Oops!"]),
    ],
)
def test_coupa_error_pages_are_not_found(errors: list[str], headings: list[str]) -> None:
    page = classify_page(raw_page(errors=errors, headings=headings, suppliers=[]))
    assert page.kind is PageKind.NOT_FOUND
    assert page.is_error
    assert page.error_text
    assert page.attachments == ()


def test_error_text_is_matched_case_insensitively() -> None:
    page = classify_page(raw_page(errors=["ACCESS DENIED for this record"], headings=[], suppliers=[]))
    assert page.kind is PageKind.NOT_FOUND
    assert page.error_text == "ACCESS DENIED for this record"


def test_localised_error_texts_can_be_added() -> None:
    raw = raw_page(
        errors=["Hoppla! Wir konnten nicht finden, was Sie gesucht haben"], headings=[], suppliers=[]
    )
    assert classify_page(raw).kind is PageKind.CONTENT  # unknown text, but the page is not empty
    german = (*ERROR_TEXTS, "Wir konnten nicht finden")
    assert classify_page(raw, error_texts=german).kind is PageKind.NOT_FOUND


def test_error_flash_on_a_page_with_content_is_not_not_found() -> None:
    raw = raw_page(errors=["You are not authorized to approve this order"], items=[item(FILE, "button")])
    page = classify_page(raw)
    assert page.kind is PageKind.CONTENT
    assert len(page.attachments) == 1
    assert page.notes and "not authorized" in page.notes[0]


@pytest.mark.parametrize(
    "raw",
    [
        raw_page(status=500, suppliers=[], headings=["We're sorry, but something went wrong."]),
        raw_page(status=200, suppliers=[], headings=["We're sorry, but something went wrong."]),
        raw_page(
            status=503, suppliers=[], headings=["Oops"], errors=["Oops! We couldn't find what you wanted"]
        ),
        raw_page(status=200, suppliers=[], headings=["Sorry"], errors=["Coupa is down for maintenance"]),
    ],
)
def test_server_errors_are_not_not_found(raw: dict[str, Any]) -> None:
    assert classify_page(raw).kind is PageKind.SERVER_ERROR


def test_empty_page_is_unrecognised() -> None:
    page = classify_page(raw_page(body=0, suppliers=[], headings=[]))
    assert page.kind is PageKind.UNRECOGNISED


def test_page_without_attachments_is_content() -> None:
    page = classify_page(raw_page())
    assert page.kind is PageKind.CONTENT
    assert page.attachments == ()
    assert page.supplier == "Acme GmbH"


def test_password_form_is_reported() -> None:
    assert classify_page(raw_page(password=True)).has_password_form


def test_garbage_probe_result_is_unrecognised_not_a_crash() -> None:
    page = classify_page({"items": [None, 3, "x"], "suppliers": ["x"], "body": 0})
    assert page.kind is PageKind.UNRECOGNISED
    assert page.attachments == ()


# --- supplier -------------------------------------------------------------------------------------


def test_supplier_prefers_the_data_attribute_and_collapses_space() -> None:
    raw = raw_page(suppliers=[{"attr": "  Müller &  Söhne KG ", "text": "Müller"}])
    assert classify_page(raw).supplier == "Müller & Söhne KG"


def test_supplier_falls_back_to_text_and_later_elements() -> None:
    raw = raw_page(suppliers=[{"attr": "", "text": "  "}, {"attr": "", "text": "Globex\n Corporation"}])
    assert classify_page(raw).supplier == "Globex Corporation"


def test_no_supplier_is_empty() -> None:
    assert classify_page(raw_page(suppliers=[])).supplier == ""


# --- file URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "explicit"),
    [
        (FILE, False),
        ("https://files.coupahost.com/attachment/attachment_file/type/1/x.pdf", False),
        (f"{HOST}/attachments/1270815592/download", False),
        (f"{HOST}/attachments/1270815592/download?filename=site%20photo.jpg", False),
        (f"{HOST}/anything/get?filename=report.pdf", False),
        (f"{HOST}/order_headers/15262984/attachments/5/download", False),
        (f"{HOST}/some/export.pdf", True),
    ],
)
def test_file_routes(url: str, explicit: bool) -> None:
    assert is_file_url(url, PAGE, po_digits="15262984", explicit_download=explicit)


@pytest.mark.parametrize(
    ("url", "explicit"),
    [
        (f"{HOST}/attachments/1270815590", False),  # the "show" route
        (f"{HOST}/attachments/1270815590/", True),
        (f"{HOST}/help/manual?topic=purchase_orders", False),
        (f"{HOST}/help/manual.pdf", True),
        (f"{HOST}/comments/15262984", False),
        (f"{HOST}/order_headers/15262983", False),
        (f"{HOST}/order_headers/15262983/attachments/5/download", False),  # another order's file
        ("https://success.coupa.com/docs/download/guide.pdf", True),  # another host
        ("https://evil.example/attachments/1/download", False),
        ("javascript:void(0)", True),
        ("mailto:x@example.com?filename=a.pdf", False),
        (f"{HOST}/comments/1?filename=", False),  # an empty filename is no file
    ],
)
def test_decoys_are_not_files(url: str, explicit: bool) -> None:
    assert not is_file_url(url, PAGE, po_digits="15262984", explicit_download=explicit)


# --- attachments ----------------------------------------------------------------------------------


def test_button_span_form_uses_the_inner_data_url_and_the_title() -> None:
    raw = raw_page(
        items=[
            item(
                FILE,
                "button",
                "0",
                title="example.eml",
                aria="example.eml file attachment",
                label="example.eml",
            ),
            item(f"{HOST}/attachments/1270815590", "data_url", "1"),  # the outer li's show route
            item(
                f"{HOST}/attachments/1270815590", "anchor", "2", title="Attachment details", label="details"
            ),
        ]
    )
    page = classify_page(raw, po_digits="15262984")
    assert len(page.attachments) == 1
    (attachment,) = page.attachments
    assert attachment.key == FILE
    assert attachment.url == FILE
    assert attachment.name_hint == "example.eml"
    assert attachment.trigger is Trigger.CLICK
    assert attachment.ref == "0"


def test_same_file_in_two_forms_is_one_attachment_opened_by_url() -> None:
    raw = raw_page(
        items=[
            item(FILE, "button", "0", title="====", label="===="),
            item(FILE + "#top", "anchor", "1", download="", label="example.eml"),
        ]
    )
    page = classify_page(raw)
    assert len(page.attachments) == 1
    attachment = page.attachments[0]
    assert attachment.trigger is Trigger.LINK
    assert attachment.form == "anchor"
    assert attachment.name_hint == "example.eml"


def test_two_files_with_the_same_name_are_two_attachments_in_page_order() -> None:
    first = f"{HOST}/attachment/attachment_file/type/1/quote.pdf"
    second = f"{HOST}/attachments/2/download"
    page = classify_page(
        raw_page(items=[item(first, "button", "0", title="quote.pdf"), item(second, "anchor", "1")])
    )
    assert [a.key for a in page.attachments] == [first, second]


def test_relative_or_empty_urls_are_ignored() -> None:
    page = classify_page(raw_page(items=[item("", "anchor"), item("/attachments/1/download", "anchor")]))
    assert page.attachments == ()


def test_attachments_of_an_error_page_are_dropped() -> None:
    raw = raw_page(suppliers=[], errors=["Access denied"], headings=[], items=[])
    assert classify_page(raw).attachments == ()


# --- names ----------------------------------------------------------------------------------------


def test_name_hint_prefers_title_then_aria_then_url() -> None:
    assert best_name_hint(title="a.pdf", aria="b.pdf", url=FILE, label="c.pdf") == "a.pdf"
    assert best_name_hint(aria="b.pdf file attachment", url=FILE) == "b.pdf"
    assert best_name_hint(url=f"{HOST}/attachments/1/download?filename=site%20photo.jpg") == "site photo.jpg"
    assert best_name_hint(url=FILE, label="Please find attached") == "example.eml"


def test_name_hint_ignores_noise_labels() -> None:
    assert (
        best_name_hint(title="=" * 60, url=f"{HOST}/attachments/1/download", label="terms.pdf") == "terms.pdf"
    )
    noisy = "Please find attached the signed quotation ====="
    assert best_name_hint(url=f"{HOST}/attachments/1/download", label=noisy) == "download"


def test_name_hint_without_anything_is_empty() -> None:
    assert best_name_hint() == ""


# --- requisitions ---------------------------------------------------------------------------------


def test_requisition_links_are_normalised_and_deduplicated() -> None:
    raw = raw_page(
        requisitions=[
            f"{HOST}/requisition_headers/5001234",
            f"{HOST}/requisition_headers/5001234/edit?x=1#y",
            "https://other.example/requisition_headers/1",
            f"{HOST}/requisition_headers/new",
        ]
    )
    assert classify_page(raw).requisitions == (f"{HOST}/requisition_headers/5001234",)


def test_page_with_only_a_requisition_link_is_content() -> None:
    raw = raw_page(suppliers=[], body=0, requisitions=[f"{HOST}/requisition_headers/5001234"])
    page = classify_page(raw)
    assert page.kind is PageKind.CONTENT
    assert page.requisitions


def test_buttons_whose_url_only_a_click_reveals_are_kept_as_click_only() -> None:
    raw = raw_page(
        items=[
            item("about:click", kind="click_only", ref="0", aria="scan.pdf file attachment"),
            item(FILE, kind="button", ref="1", title="example.eml"),
            item("about:click", kind="click_only", ref="2", title="scan.pdf"),
        ]
    )
    page = classify_page(raw, po_digits="15262984")
    first, linked, second = page.attachments
    assert (first.key, first.url, first.trigger) == (f"{PAGE}#click-only-1", "", Trigger.CLICK)
    assert first.ref == "0"
    assert first.name_hint == "scan.pdf"
    assert (second.key, second.ref) == (f"{PAGE}#click-only-2", "2")  # same name, still two files
    assert (linked.key, linked.url) == (FILE, FILE)
