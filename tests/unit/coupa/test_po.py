"""PO numbers, statuses and page addresses."""

from __future__ import annotations

import pytest

from coupadl.coupa.po import PONumber, POStatus, parse_po_number, po_url


@pytest.mark.parametrize(
    ("value", "digits", "display"),
    [
        ("PO15262984", "15262984", "PO15262984"),
        ("PM16895339", "16895339", "PM16895339"),
        ("15262984", "15262984", "PO15262984"),
        ("po15262984", "15262984", "PO15262984"),
        ("pm16895339", "16895339", "PM16895339"),
        ("Po15262984", "15262984", "PO15262984"),
        ("pM16895339", "16895339", "PM16895339"),
        ("  PO15262984  ", "15262984", "PO15262984"),
        ("\t15262984\n", "15262984", "PO15262984"),
        ("\u00a0PM16895339\u00a0", "16895339", "PM16895339"),
        ("123456", "123456", "PO123456"),
        ("PO123456", "123456", "PO123456"),
        ("001234567", "001234567", "PO001234567"),
        (15262984, "15262984", "PO15262984"),
        (15262984.0, "15262984", "PO15262984"),
    ],
)
def test_accepted_forms(value: object, digits: str, display: str) -> None:
    po = parse_po_number(value)
    assert po is not None
    assert po.digits == digits
    assert po.display == display
    assert po.raw == (value if isinstance(value, str) else digits)
    assert str(po) == display


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "PO",
        "12345",  # five digits
        "PO12345",
        "PM12345",
        "PX15262984",
        "P15262984",
        "O15262984",
        "PO-15262984",
        "PO 15262984",
        "15262984PO",
        "15 262 984",
        "15262984.5",
        "1.5262984E+07",
        "15262984;16895339",
        "REQ15262984",
        "PO15262984x",
        "-15262984",
        "١٥٢٦٢٩٨٤",  # Arabic-Indic digits: \d would match them, Coupa ids never use them
        "PO１５２６２９８４",  # full-width digits
        None,
        True,
        15262984.5,
        -152629840.0,
    ],
)
def test_rejected_forms(value: object) -> None:
    assert parse_po_number(value) is None


def test_po_number_is_frozen_and_hashable() -> None:
    po = parse_po_number("PO15262984")
    assert po is not None
    with pytest.raises(AttributeError):
        po.digits = "1"  # type: ignore[misc]
    assert {po, PONumber("PO15262984", "15262984", "PO15262984")} == {po}


@pytest.mark.parametrize("base", ["https://acme.coupahost.com", "https://acme.coupahost.com/"])
def test_po_url(base: str) -> None:
    po = parse_po_number("PM16895339")
    assert po is not None
    assert po_url(base, po) == "https://acme.coupahost.com/order_headers/16895339"


def test_final_statuses_are_the_ones_not_revisited() -> None:
    final = {status for status in POStatus if status.is_final}
    assert final == {POStatus.COMPLETED, POStatus.NO_ATTACHMENTS, POStatus.PO_NOT_FOUND, POStatus.INVALID_PO}
    assert not POStatus.FAILED.is_final
    assert not POStatus.PARTIAL.is_final
    assert not POStatus.PENDING.is_final


def test_status_values_are_the_contract_strings() -> None:
    assert [s.value for s in POStatus] == [
        "COMPLETED",
        "PARTIAL",
        "NO_ATTACHMENTS",
        "PO_NOT_FOUND",
        "INVALID_PO",
        "FAILED",
        "PENDING",
    ]
    assert POStatus("FAILED") is POStatus.FAILED
    assert f"{POStatus.COMPLETED}" == "COMPLETED"
