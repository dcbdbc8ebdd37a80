"""Route logic of the sandbox app through Flask's test client (no browser, no socket)."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from coupadl.sandbox import (
    SESSION_COOKIE,
    Attachment,
    PurchaseOrder,
    Requisition,
    Scenario,
    create_app,
    site_of,
)
from coupadl.sandbox.tokens import TokenSigner

PO = "15262984"


def _scenario(**site: object) -> Scenario:
    return Scenario(
        pos=[
            PurchaseOrder(
                PO,
                "Acme & Söhne GmbH",
                attachments=[
                    Attachment("quote.pdf", 3000, form="button_span"),
                    Attachment("invoice.pdf", 2000, form="anchor"),
                    Attachment("contract.docx", 1000, form="anchor_download_attr"),
                    Attachment("price list.xlsx", 500, form="data_url", redirect=True),
                    Attachment("photo <1>.jpg", 400, form="filename_query", label="=" * 40),
                    Attachment("flaky.pdf", 100, fail_first=2),
                    Attachment("slow.pdf", 1000, delay_s=0.2),
                ],
            ),
            PurchaseOrder("15262990", requisition=Requisition("5001234", [Attachment("req.pdf", 700)])),
            PurchaseOrder("15262996", kind="not_found"),
            PurchaseOrder("15262997", kind="forbidden"),
        ],
        **site,  # type: ignore[arg-type]
    )


@pytest.fixture
def app() -> Flask:
    return create_app(_scenario(sso_host="sso.localhost"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def signed_in(client: FlaskClient) -> FlaskClient:
    assert client.get("/sandbox/autologin?next=/user/home").status_code == 302
    return client


def _file(app: Flask, name: str) -> tuple[int, bytes]:
    served = next(f for f in site_of(app).files() if f.name == name)
    return served.attachment_id, served.content


# --- sign-in --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/user/home", f"/order_headers/{PO}", "/requisition_headers/5001234",
                                  "/attachments/1270815590", "/attachments/1270815590/download"])  # fmt: skip
def test_signed_out_requests_go_to_sign_in_with_return_to(client: FlaskClient, path: str) -> None:
    response = client.get(path + "?x=1")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sessions/new"
    assert parse_qs(location.query)["return_to"] == [path + "?x=1"]


def test_sign_in_bounces_through_the_sso_host_and_back_to_a_form(client: FlaskClient) -> None:
    hop = client.get("/sessions/new?return_to=/order_headers/15262984")
    assert hop.status_code == 302
    hop_url = urlsplit(hop.headers["Location"])
    assert (hop_url.hostname, hop_url.path) == ("sso.localhost", "/sso/authorize")
    back = client.get(hop.headers["Location"], headers={"Host": "sso.localhost"})
    assert back.status_code == 302
    form = client.get(back.headers["Location"])
    assert form.status_code == 200
    assert 'id="user_email"' in form.text and 'id="user_password"' in form.text
    assert 'value="/order_headers/15262984"' in form.text
    assert client.get_cookie(SESSION_COOKIE) is None


def test_the_sso_hop_refuses_foreign_redirects(client: FlaskClient) -> None:
    response = client.get("/sso/authorize?redirect_uri=https://evil.example/sessions/new")
    assert response.status_code == 400


def test_posting_the_form_sets_a_persistent_http_only_cookie(client: FlaskClient) -> None:
    bad = client.post(
        "/sessions", data={"user[email]": "nobody", "user[password]": "", "return_to": "/user/home"}
    )
    assert bad.status_code == 200 and "Invalid email or password" in bad.text
    assert client.get_cookie(SESSION_COOKIE) is None
    good = client.post(
        "/sessions",
        data={
            "user[email]": "buyer@example.com",
            "user[password]": "pw",
            "return_to": f"/order_headers/{PO}",
        },
    )
    assert good.status_code == 302 and good.headers["Location"] == f"/order_headers/{PO}"
    cookie = good.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "Max-Age=1209600" in cookie
    assert client.get(f"/order_headers/{PO}").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil", "user/home"])
def test_return_to_stays_on_the_site(client: FlaskClient, target: str) -> None:
    response = client.get("/sandbox/autologin", query_string={"next": target})
    assert response.headers["Location"] == "/user/home"


def test_sessions_are_shared_by_instances_with_the_same_secret() -> None:
    token = TokenSigner().new_session()
    other = create_app(_scenario()).test_client()
    other.set_cookie(SESSION_COOKIE, token)
    assert other.get("/user/home").status_code == 200
    foreign = create_app(_scenario(), secret=b"another").test_client()
    foreign.set_cookie(SESSION_COOKIE, token)
    assert foreign.get("/user/home").status_code == 302


def test_cookie_lifetime_is_enforced_by_the_server() -> None:
    client = create_app(_scenario(cookie_max_age_s=60)).test_client()
    client.set_cookie(SESSION_COOKIE, TokenSigner().new_session(now_ms=int(time.time() * 1000) - 61_000))
    assert client.get("/user/home").status_code == 302


def test_sessions_expire_after_n_page_views() -> None:
    client = create_app(_scenario(expire_after_views=2)).test_client()
    client.get("/sandbox/autologin")
    assert [client.get("/user/home").status_code for _ in range(3)] == [200, 200, 302]
    assert client.get("/user/home").status_code == 302  # stays signed out
    client.get("/sandbox/autologin")
    assert client.get("/user/home").status_code == 200  # a new sign-in gets a new budget


def test_expire_signs_every_session_out_of_this_instance_only(app: Flask, signed_in: FlaskClient) -> None:
    other = create_app(_scenario()).test_client()
    other.set_cookie(SESSION_COOKIE, signed_in.get_cookie(SESSION_COOKIE).value)  # type: ignore[union-attr]
    assert signed_in.post("/sandbox/expire").json == {"expired": True}
    assert signed_in.get("/user/home").status_code == 302
    assert other.get("/user/home").status_code == 200
    time.sleep(0.002)
    signed_in.get("/sandbox/autologin")
    assert signed_in.get("/user/home").status_code == 200


# --- pages ----------------------------------------------------------------------------------------


def test_po_page_shows_supplier_lines_and_every_form(app: Flask, signed_in: FlaskClient) -> None:
    html = signed_in.get(f"/order_headers/{PO}").text
    quote_id, _ = _file(app, "quote.pdf")
    assert '<span data-supplier-name="Acme &amp; Söhne GmbH" class="supplier-name">' in html
    assert 'class="order-line"' in html
    assert f'<li class="attachment" data-url="/attachments/{quote_id}">' in html
    assert (
        f'<span class="attachment-file" data-url="http://localhost/attachment/attachment_file/type/{quote_id}/quote.pdf">'
        in html
    )
    assert 'aria-label="quote.pdf file attachment"' in html
    assert f'<a href="/attachments/{quote_id + 1}/download">invoice.pdf</a>' in html
    assert f'<a download href="/attachment/attachment_file/type/{quote_id + 2}/contract.docx">' in html
    assert (
        f'class="file-link" role="link" tabindex="0"\n      data-url="/attachments/{quote_id + 3}/download">'
        in html
    )
    assert f'href="/attachments/{quote_id + 4}/download?filename=photo%20%3C1%3E.jpg">{"=" * 40}</a>' in html
    assert "photo <1>" not in html  # names are escaped
    # Decoys: the show route, the manual, another order, a data-url on a comment.
    assert f'href="/attachments/{quote_id}" title="Attachment details"' in html
    assert 'href="/help/manual' in html and 'href="/order_headers/15262983"' in html
    assert f'<div class="comment" data-url="/comments/{PO}">' in html


def test_requisition_is_linked_and_shows_its_attachments(app: Flask, signed_in: FlaskClient) -> None:
    html = signed_in.get("/order_headers/15262990").text
    assert '<a class="requisition-link" href="/requisition_headers/5001234">' in html
    assert "No attachments" in html
    req_id, _ = _file(app, "req.pdf")
    req = signed_in.get("/requisition_headers/5001234").text
    assert f"/attachment/attachment_file/type/{req_id}/req.pdf" in req


def test_more_requisitions_are_linked_and_one_may_redirect_home() -> None:
    scenario = Scenario(
        pos=[
            PurchaseOrder(
                "15262990",
                requisition=Requisition("5001234"),
                more_requisitions=[Requisition("5001235", redirect_home=True)],
            )
        ]
    )
    client = create_app(scenario).test_client()
    assert client.get("/sandbox/autologin?next=/user/home").status_code == 302
    html = client.get("/order_headers/15262990").text
    assert html.index("/requisition_headers/5001234") < html.index("/requisition_headers/5001235")
    assert client.get("/requisition_headers/5001234").status_code == 200
    response = client.get("/requisition_headers/5001235")
    assert response.status_code == 302 and response.headers["Location"].endswith("/user/home")


@pytest.mark.parametrize("number", ["15262996", "99999999", "not-a-number"])
def test_unknown_po_is_a_200_oops_page(signed_in: FlaskClient, number: str) -> None:
    response = signed_in.get(f"/order_headers/{number}")
    assert response.status_code == 200
    assert (
        '<div class="flash_error" id="flash_error">Oops! We couldn&#39;t find what you wanted</div>'
        in response.text
    )
    assert "<h1>Oops</h1>" in response.text


def test_forbidden_po_is_a_200_not_authorized_page(signed_in: FlaskClient) -> None:
    response = signed_in.get("/order_headers/15262997")
    assert response.status_code == 200 and "You are not authorized" in response.text
    assert "supplier-name" not in response.text


def test_page_latency_applies_to_html_pages_only() -> None:
    client = create_app(_scenario(page_latency_s=0.3)).test_client()
    client.get("/sandbox/autologin")
    started = time.monotonic()
    client.get("/sandbox/files")
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    client.get("/user/home")
    assert time.monotonic() - started >= 0.3


# --- files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quote.pdf", "invoice.pdf", "contract.docx", "photo <1>.jpg", "slow.pdf"])
def test_file_routes_send_the_listed_bytes_with_disposition(
    app: Flask, signed_in: FlaskClient, name: str
) -> None:
    served = next(f for f in site_of(app).files() if f.name == name)
    response = signed_in.get(served.path)
    assert response.status_code == 200
    assert hashlib.sha256(response.data).hexdigest() == served.sha256
    assert int(response.headers["Content-Length"]) == served.size
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == name


def test_slow_files_trickle(app: Flask, signed_in: FlaskClient) -> None:
    attachment_id, content = _file(app, "slow.pdf")
    started = time.monotonic()
    assert signed_in.get(f"/attachments/{attachment_id}/download").data == content
    assert time.monotonic() - started >= 0.18


def test_redirected_files_come_from_signed_storage(app: Flask, signed_in: FlaskClient) -> None:
    attachment_id, content = _file(app, "price list.xlsx")
    response = signed_in.get(f"/attachments/{attachment_id}/download")
    assert response.status_code == 302 and response.headers["Location"].startswith("/storage/signed/")
    stranger = app.test_client()  # a signed storage URL needs no session
    stored = stranger.get(response.headers["Location"])
    assert stored.data == content and "price%20list.xlsx" in stored.headers["Content-Disposition"]
    assert stranger.get("/storage/signed/forged.token").status_code == 403


def test_fail_first_answers_503_then_the_file(app: Flask, signed_in: FlaskClient) -> None:
    attachment_id, content = _file(app, "flaky.pdf")
    statuses = [signed_in.get(f"/attachments/{attachment_id}/download").status_code for _ in range(2)]
    assert statuses == [503, 503]
    assert signed_in.get(f"/attachments/{attachment_id}/download").data == content


def test_decoys_carry_no_file(app: Flask, signed_in: FlaskClient) -> None:
    attachment_id, _ = _file(app, "quote.pdf")
    for path in (
        f"/attachments/{attachment_id}",
        "/help/manual?topic=x",
        f"/comments/{PO}",
        "/order_headers/15262983",
    ):
        response = signed_in.get(path)
        assert response.status_code == 200 and response.mimetype == "text/html", path
        assert "Content-Disposition" not in response.headers, path
    assert signed_in.get("/attachments/1/download").status_code == 404


# --- introspection --------------------------------------------------------------------------------


def test_request_log_hashes_sessions_and_never_holds_the_cookie(app: Flask, signed_in: FlaskClient) -> None:
    cookie = signed_in.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    signed_in.get(f"/order_headers/{PO}?tab=1")
    log = signed_in.get("/sandbox/requests")
    assert cookie.value not in log.text and cookie.value.split(".")[0] not in log.text
    records = site_of(app).requests()
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/sandbox/autologin", 302),
        ("GET", f"/order_headers/{PO}", 200),
    ]
    assert records[0].session is None and records[1].session and len(records[1].session) == 12
    assert records[1].query == "tab=1" and records[0].at <= records[1].at


def test_files_listing_matches_the_served_bytes(app: Flask, client: FlaskClient) -> None:
    listing = client.get("/sandbox/files").json
    assert isinstance(listing, list) and len(listing) == 8
    by_id = {f.attachment_id: f for f in site_of(app).files()}
    for entry in listing:
        served = by_id[entry["attachment_id"]]
        assert entry["sha256"] == hashlib.sha256(served.content).hexdigest()
        assert entry["size"] == len(served.content) and entry["name"] == served.name
    req = next(e for e in listing if e["name"] == "req.pdf")
    assert (req["po"], req["owner"], req["owner_number"]) == ("15262990", "requisition_header", "5001234")


def test_scenario_is_served_as_json(app: Flask, client: FlaskClient) -> None:
    assert Scenario.from_json(client.get("/sandbox/scenario").text) == site_of(app).scenario


def test_every_demo_file_is_served_with_its_listed_bytes() -> None:
    app = create_app(Scenario.demo())
    client = app.test_client()
    client.get("/sandbox/autologin")
    checked = 0
    for served in site_of(app).files():
        if served.attachment.delay_s:
            continue  # covered by test_slow_files_trickle; keeps this test fast
        response = client.get(served.path)
        for _ in range(served.attachment.fail_first):
            assert response.status_code == 503
            response = client.get(served.path)
        if served.attachment.redirect:
            response = client.get(response.headers["Location"])
        assert response.status_code == 200, served.name
        assert hashlib.sha256(response.data).hexdigest() == served.sha256, served.name
        checked += 1
    assert checked == len(site_of(app).files()) - 1  # all but the one slow file


# --- knobs of the files-over-HTTP tests -------------------------------------------------------------


def _one(*attachments: Attachment, **site: object) -> Flask:
    return create_app(Scenario(pos=[PurchaseOrder(PO, attachments=attachments)], **site))  # type: ignore[arg-type]


def test_storage_host_puts_signed_urls_on_another_host_name() -> None:
    app = _one(Attachment("big.zip", 100, redirect=True), storage_host="localhost")
    client = app.test_client()
    client.get("/sandbox/autologin?next=/user/home", base_url="http://127.0.0.1:5000")
    attachment_id, content = _file(app, "big.zip")
    response = client.get(f"/attachments/{attachment_id}/download", base_url="http://127.0.0.1:5000")
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.hostname, location.port) == ("http", "localhost", 5000)
    assert app.test_client().get(location.path).data == content


def test_fail_status_chooses_the_error_then_the_file() -> None:
    app = _one(Attachment("flaky.pdf", 100, fail_first=1, fail_status=500))
    client = app.test_client()
    client.get("/sandbox/autologin?next=/user/home")
    attachment_id, content = _file(app, "flaky.pdf")
    assert client.get(f"/attachments/{attachment_id}/download").status_code == 500
    assert client.get(f"/attachments/{attachment_id}/download").data == content
    with pytest.raises(ValueError, match="fail_status"):
        Attachment("x.pdf", fail_status=200)


def test_expire_session_signs_everyone_out_at_the_file() -> None:
    app = _one(Attachment("quote.pdf", expire_session=True))
    client = app.test_client()
    client.get("/sandbox/autologin?next=/user/home")
    assert client.get(f"/order_headers/{PO}").status_code == 200
    attachment_id, _ = _file(app, "quote.pdf")
    response = client.get(f"/attachments/{attachment_id}/download")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sessions/new")
    assert client.get(f"/order_headers/{PO}").status_code == 302  # the page now asks for sign-in too


def test_click_only_attachment_has_no_file_url_in_the_page() -> None:
    app = _one(Attachment("hidden.pdf", 100, click_only=True))
    client = app.test_client()
    client.get("/sandbox/autologin?next=/user/home")
    attachment_id, content = _file(app, "hidden.pdf")
    html = client.get(f"/order_headers/{PO}").get_data(as_text=True)
    assert f'data-attachment-id="{attachment_id}"' in html
    assert 'title="hidden.pdf"' in html
    assert "/attachment_file/" not in html and f"/attachments/{attachment_id}/download" not in html
    assert client.get(f"/attachments/{attachment_id}/download").data == content
    with pytest.raises(ValueError, match="click_only"):
        Attachment("x.pdf", form="anchor", click_only=True)


# --- real-tenant knobs ------------------------------------------------------------------------------------


def _site(*pos: PurchaseOrder, **site: object) -> FlaskClient:
    client = create_app(Scenario(pos=list(pos), **site)).test_client()  # type: ignore[arg-type]
    assert client.get("/sandbox/autologin?next=/user/home").status_code == 302
    return client


def test_throttled_page_answers_429_with_retry_after_for_the_first_requests() -> None:
    client = _site(PurchaseOrder(PO, throttle_first=2, retry_after="2"))
    first = client.get(f"/order_headers/{PO}")
    assert (first.status_code, first.headers.get("Retry-After")) == (429, "2")
    second = client.head(f"/order_headers/{PO}")
    assert (second.status_code, second.headers.get("Retry-After")) == (429, "2")
    assert client.get(f"/order_headers/{PO}").status_code == 200
    quiet = _site(PurchaseOrder(PO, throttle_first=1, retry_after=None))
    assert "Retry-After" not in quiet.get(f"/order_headers/{PO}").headers


@pytest.mark.parametrize(("kind", "status"), [("http_404", 404), ("http_403", 403)])
def test_http_status_kinds(kind: str, status: int) -> None:
    response = _site(PurchaseOrder(PO, kind=kind, language="fr")).get(f"/order_headers/{PO}")  # type: ignore[arg-type]
    assert response.status_code == status
    assert "flash_error" in response.text


def test_error_pages_in_another_language() -> None:
    client = _site(PurchaseOrder("15262997", kind="forbidden", language="pt-BR"), language="pt-BR")
    assert "Desculpe, não encontramos o que você procurava" in client.get("/order_headers/99999999").text
    assert "Você não está autorizado a acessar esta página" in client.get("/order_headers/15262997").text


@pytest.mark.parametrize("unknown", ["redirect_home", "http_404"])
def test_unknown_po_behaviour(unknown: str) -> None:
    response = _site(unknown_po=unknown).get("/order_headers/99999999")
    if unknown == "redirect_home":
        assert (response.status_code, response.headers["Location"]) == (302, "/user/home")
    else:
        assert response.status_code == 404


def test_redirect_home_kind() -> None:
    response = _site(PurchaseOrder(PO, kind="redirect_home")).get(f"/order_headers/{PO}")
    assert (response.status_code, response.headers["Location"]) == (302, "/user/home")


def test_page_showing_another_number() -> None:
    html = _site(PurchaseOrder(PO, shown_number="15262983")).get(f"/order_headers/{PO}").text
    assert "<title>Purchase Order #15262983 | Coupa</title>" in html
    assert '<h1 class="page-title">Purchase Order #15262983</h1>' in html
    assert f"#{PO}" not in html


def test_late_attachments_sit_in_a_template_behind_a_loading_sign() -> None:
    po = PurchaseOrder(
        PO, attachments=[Attachment("late.pdf")], attachments_delay_s=1.5, attachments_loading="aria_busy"
    )
    html = _site(po).get(f"/order_headers/{PO}").text
    assert '<section id="attachments" class="attachments-section" aria-busy="true">' in html
    assert '<template id="late-attachments" data-delay-ms="1500">' in html
    assert html.index("late.pdf") > html.index('<template id="late-attachments"')
    placeholder = (
        _site(PurchaseOrder(PO, attachments=[Attachment("late.pdf")], attachments_forever=True))
        .get(f"/order_headers/{PO}")
        .text
    )
    assert "<span>Loading attachments...</span>" in placeholder
    assert "late.pdf" not in placeholder.split("<script>")[0]  # never delivered


def test_role_button_row_carries_the_file_route_on_the_li() -> None:
    app = create_app(
        Scenario(pos=[PurchaseOrder(PO, attachments=[Attachment("a.eml", form="role_button_ancestor")])])
    )
    client = app.test_client()
    client.get("/sandbox/autologin?next=/user/home")
    attachment_id, content = _file(app, "a.eml")
    html = client.get(f"/order_headers/{PO}").text
    route = f"/attachment/attachment_file/file/{attachment_id}/a.eml"
    assert f'data-download-url="{route}"' in html
    assert 'aria-label="a.eml file attachment"' in html
    assert client.get(route).data == content
