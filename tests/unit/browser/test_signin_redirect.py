"""Sign-in detection: a signed-out window must never look like a normal page."""

import pytest

from coupadl.browser.signin import signin_redirect

BASE = "https://acme.coupahost.com"


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        (f"{BASE}/sessions/new?return_to=%2Forder_headers%2F1", "sign-in page"),
        ("https://login.microsoftonline.com/common/oauth2/authorize", "identity provider"),
        ("https://acme.okta.com/app/coupa/sso/saml", "identity provider"),
        ("https://sso.acme.example/adfs/ls", "another host"),
        # Every same-host sign-in address the facts list (a tenant's SSO hop can stay on its own host).
        (f"{BASE}/login", "sign-in page"),
        (f"{BASE}/oauth/authorize?client_id=coupa", "sign-in page"),
        (f"{BASE}/sso/start", "sign-in page"),
        (f"{BASE}/authorization.oauth2?response_type=code", "sign-in page"),
        (f"{BASE}/openid/connect/authorize", "sign-in page"),
        (f"{BASE}/idp/openid-connect", "sign-in page"),
        (f"{BASE}/pingfederate/as/authorization.oauth2", "sign-in page"),
        (f"{BASE}/session_expired", "sign-in page"),
        (f"{BASE}/session_expired?return_to=%2Forder_headers%2F15262984", "sign-in page"),
        (f"{BASE}/auth/saml/callback", "sign-in page"),
        ("https://pingfederate.acme.example/as/authorization.oauth2", "another host"),
        ("https://auth.pingone.com/env/as/authorize", "identity provider"),
    ],
)
def test_signin_redirects_are_named(final: str, expected: str) -> None:
    described = signin_redirect(f"{BASE}/order_headers/15262984", final)
    assert described is not None
    assert described.startswith(expected)


def test_reaching_the_page_is_not_a_redirect() -> None:
    assert signin_redirect(f"{BASE}/order_headers/1", f"{BASE}/order_headers/1") is None
    assert signin_redirect(f"{BASE}/user/home", f"{BASE}/user/home#top") is None


def test_password_form_at_the_asked_address_counts_as_signed_out() -> None:
    described = signin_redirect(f"{BASE}/user/home", f"{BASE}/user/home", has_password_form=True)
    assert described is not None and "sign-in form" in described


def test_browser_error_pages_are_not_sign_in() -> None:
    assert signin_redirect(f"{BASE}/user/home", "chrome-error://chromewebdata/") is None
