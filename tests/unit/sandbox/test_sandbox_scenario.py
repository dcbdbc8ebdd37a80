"""Scenario data: validation, JSON round trip, deterministic content and the ready-made sites."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from coupadl.sandbox import ATTACHMENT_FORMS, Attachment, PoLine, PurchaseOrder, Requisition, Scenario
from coupadl.sandbox.catalog import FIRST_ATTACHMENT_ID, Catalog


def test_a_test_states_its_site_in_a_few_lines() -> None:
    scenario = Scenario(
        pos=[
            PurchaseOrder(
                number="15262984", supplier="Acme GmbH", attachments=[Attachment("quote.pdf", 100_000)]
            )
        ],
        page_latency_s=0.3,
    )
    po = scenario.po("15262984")
    assert po is not None
    assert po.attachments == (Attachment("quote.pdf", 100_000),)  # lists become tuples: truly frozen
    assert po.lines and po.lines[0].description  # a PO page always has a line
    assert scenario.po("99999999") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.page_latency_s = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "make",
    [
        lambda: PurchaseOrder(number="PO15262984"),
        lambda: PurchaseOrder(number="15262984", kind="missing"),  # type: ignore[arg-type]
        lambda: Requisition(number="R-1"),
        lambda: Attachment("x.pdf", form="link"),  # type: ignore[arg-type]
        lambda: Attachment(""),
        lambda: Attachment("bad\r\nname.pdf"),
        lambda: Attachment("x.pdf", size=-1),
        lambda: Attachment("x.pdf", fail_first=-1),
        lambda: Scenario(pos=[PurchaseOrder("1"), PurchaseOrder("1")]),
        lambda: Scenario(cookie_max_age_s=0),
    ],
)
def test_invalid_values_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_explicit_content_sets_the_size() -> None:
    assert Attachment("a.txt", size=5, content=b"hello world").size == 11


def test_json_round_trip_keeps_everything(tmp_path: Path) -> None:
    scenario = Scenario.demo()
    path = tmp_path / "demo.json"
    scenario.dump(path)
    again = Scenario.load(path)
    assert again == scenario
    assert Catalog(again).all()[5].sha256 == Catalog(scenario).all()[5].sha256
    data = json.loads(path.read_text(encoding="utf-8"))
    notes = next(a for po in data["pos"] for a in po["attachments"] if a["name"] == "notes.txt")
    assert "content" not in notes and notes["content_base64"]


def test_unknown_json_keys_are_refused() -> None:
    with pytest.raises(ValueError, match=r"pos\.0\.vendor: Unexpected keyword argument"):
        Scenario.from_json('{"pos": [{"number": "123456", "vendor": "x"}]}')
    with pytest.raises(ValueError):
        Scenario.from_json("[]")


def test_generated_content_is_deterministic_and_distinct() -> None:
    scenario = Scenario(
        pos=[PurchaseOrder("123456", attachments=[Attachment("q.pdf", 5000), Attachment("q.pdf", 5000)])]
    )
    first, second = Catalog(scenario).all()
    assert [f.attachment_id for f in (first, second)] == [FIRST_ATTACHMENT_ID, FIRST_ATTACHMENT_ID + 1]
    assert first.size == second.size == 5000
    assert first.content != second.content  # same name on one PO, different files
    assert Catalog(scenario).all()[0].content == first.content
    assert Catalog(dataclasses.replace(scenario, seed="other")).all()[0].content != first.content


def test_explicit_ids_are_kept_and_others_avoid_them() -> None:
    scenario = Scenario(
        pos=[PurchaseOrder("123456", attachments=[Attachment("a", id=FIRST_ATTACHMENT_ID), Attachment("b")])]
    )
    assert [f.attachment_id for f in Catalog(scenario).all()] == [
        FIRST_ATTACHMENT_ID,
        FIRST_ATTACHMENT_ID + 1,
    ]
    clash = Scenario(
        pos=[PurchaseOrder("123456", attachments=[Attachment("a", id=7), Attachment("b", id=7)])]
    )
    with pytest.raises(ValueError, match="used twice"):
        Catalog(clash)


def test_demo_covers_every_outcome() -> None:
    demo = Scenario.demo()
    attachments = [a for po in demo.pos for a in po.attachments]
    names = [a.name for a in attachments]
    assert 18 <= len(demo.pos) <= 25
    assert {a.form for a in attachments} == set(ATTACHMENT_FORMS)
    assert {po.kind for po in demo.pos} == {"normal", "not_found", "forbidden"}
    assert any(po.kind == "normal" and not po.attachments and not po.requisition for po in demo.pos)
    assert any(not po.attachments and po.requisition and po.requisition.attachments for po in demo.pos)
    assert any(len({a.name for a in po.attachments}) < len(po.attachments) for po in demo.pos)  # duplicates
    assert any(".." in n for n in names) and "CON.txt" in names and any(len(n) > 150 for n in names)
    assert any(not n.isascii() for n in names) and any("/" in n or "\\" in n for n in names)
    assert any(a.delay_s > 0 for a in attachments) and any(a.fail_first for a in attachments)
    assert any(a.redirect for a in attachments) and any(a.label and "====" in a.label for a in attachments)
    assert demo.sso_host


def test_bench_is_uniform() -> None:
    bench = Scenario.bench(n_pos=7, attachments_per_po=3, size=1234, page_latency_s=0.1)
    files = Catalog(bench).all()
    assert len(bench.pos) == 7 and len(files) == 21
    assert {f.size for f in files} == {1234}
    assert {f.attachment.form for f in files} == set(ATTACHMENT_FORMS)
    assert bench.page_latency_s == 0.1
    assert len({f.name for f in files}) == 21


def test_lines_keep_their_totals() -> None:
    assert PoLine("valves", 12, 2.5).total == 30.0


def test_real_tenant_knobs_round_trip_through_json() -> None:
    scenario = Scenario(
        pos=[
            PurchaseOrder(
                "15262984",
                attachments=[Attachment("a.eml", form="role_button_ancestor")],
                attachments_delay_s=1.5,
                attachments_loading="aria_busy",
                throttle_first=2,
                retry_after=None,
                shown_number="15262983",
            ),
            PurchaseOrder("15262985", kind="http_403", language="de", attachments_forever=True),
            PurchaseOrder("15262986", busy_elsewhere=True),
        ],
        unknown_po="redirect_home",
        language="pt-BR",
    )
    assert Scenario.from_json(scenario.to_json()) == scenario


def test_more_requisitions_are_linked_in_order_and_round_trip() -> None:
    first = Requisition("5001234", attachments=[Attachment("req.pdf")])
    elsewhere = Requisition("5001235", attachments=[Attachment("other.pdf")], redirect_home=True)
    po = PurchaseOrder("15262990", requisition=first, more_requisitions=[elsewhere])
    scenario = Scenario(pos=[po])
    assert po.requisitions == (first, elsewhere)
    assert scenario.requisition("5001235") == elsewhere
    owners = [(f.owner, f.owner_number, f.attachment.name) for f in Catalog(scenario).all()]
    assert owners == [
        ("requisition_header", "5001234", "req.pdf"),
        ("requisition_header", "5001235", "other.pdf"),
    ]
    assert Scenario.from_json(scenario.to_json()) == scenario


@pytest.mark.parametrize(
    "make",
    [
        lambda: PurchaseOrder("15262984", language="it"),  # type: ignore[arg-type]
        lambda: PurchaseOrder("15262984", attachments_loading="blink"),  # type: ignore[arg-type]
        lambda: PurchaseOrder("15262984", attachments_delay_s=-1),
        lambda: PurchaseOrder("15262984", throttle_first=-1),
        lambda: PurchaseOrder("15262984", shown_number="PO1"),
        lambda: Scenario(unknown_po="teapot"),  # type: ignore[arg-type]
        lambda: Scenario(language="xx"),  # type: ignore[arg-type]
    ],
)
def test_invalid_real_tenant_knobs_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
