"""The sandbox's sign-in cookie: persistent (Max-Age) or session-only (Rails' default, the demo's)."""

from __future__ import annotations

import dataclasses

import pytest

from coupadl.sandbox import SESSION_COOKIE, Scenario, create_app


def _sign_in_header(scenario: Scenario) -> str:
    client = create_app(scenario).test_client()
    response = client.get("/sandbox/autologin?next=/user/home")
    assert response.status_code == 302
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{SESSION_COOKIE}=")]
    assert len(cookies) == 1, cookies
    return cookies[0]


def test_persistent_cookie_carries_max_age_and_expiry() -> None:
    header = _sign_in_header(Scenario.small()).lower()
    assert f"max-age={14 * 24 * 3600}" in header
    assert "expires=" in header


@pytest.mark.parametrize(
    "scenario", [dataclasses.replace(Scenario.small(), session_only_cookie=True), Scenario.demo()]
)
def test_session_only_cookie_has_no_lifetime_but_still_signs_in(scenario: Scenario) -> None:
    header = _sign_in_header(scenario).lower()
    assert "max-age" not in header and "expires=" not in header
    assert "httponly" in header and "path=/" in header
    client = create_app(scenario).test_client()
    client.get("/sandbox/autologin?next=/user/home")
    stored = client.get_cookie(SESSION_COOKIE)
    assert stored is not None and stored.expires is None  # a browser session cookie
    assert client.get("/user/home").status_code == 200


def test_session_only_cookie_round_trips_through_json() -> None:
    scenario = dataclasses.replace(Scenario.small(), session_only_cookie=True)
    assert Scenario.from_json(scenario.to_json()).session_only_cookie is True
    assert Scenario.from_json(Scenario.small().to_json()).session_only_cookie is False
