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
