"""Tell a sign-in page (native form or corporate SSO) from the page that was asked for.

A Coupa session that expired looks exactly like one that never existed: a redirect to `/sessions/new` or on
to the company's identity provider. This module names where the browser was sent, so a signed-out window is
never mistaken for "PO not found".
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

__all__ = ["SIGNIN_FORM_SELECTOR", "SIGNIN_PROBE_JS", "signin_redirect"]

# Every sign-in or SSO address real tenants are known to send a browser to: Coupa's own forms, the
# session-expired page (which can show the not-found text), OAuth / OpenID / SAML endpoints and PingFederate.
_SIGNIN_PATH = re.compile(
    r"/(sessions/new|sessions/sign_in|users/sign_in|login|signin|sign_in|sso|saml2?|oauth2?|adfs|idp|auth/"
    r"|authorization)|openid|pingfederate|session_expired",
    re.IGNORECASE,
)
_IDP_HOST = re.compile(
    r"(^|\.)(login\.microsoftonline\.com|login\.microsoft\.com|login\.live\.com|okta\.com|oktapreview\.com|"
    r"onelogin\.com|pingone\.com|pingidentity\.com|duosecurity\.com|auth0\.com|accounts\.google\.com)$",
    re.IGNORECASE,
)

# A sign-in form (Coupa's own, or any password field): on a page, it means a sign-in page was served at the
# asked-for URL. The one place that says what such a form looks like; the Coupa page probe uses it too.
SIGNIN_FORM_SELECTOR = '#user_password, input[type=password], form[action*="sessions"]'

# True when the page shows a sign-in form.
SIGNIN_PROBE_JS = f"return !!document.querySelector({json.dumps(SIGNIN_FORM_SELECTOR)});"


def signin_redirect(requested_url: str, final_url: str, *, has_password_form: bool = False) -> str | None:
    """Where the browser was sent instead of `requested_url`, if it looks like sign-in; else None.

    Args:
        requested_url: the authenticated page that was asked for.
        final_url: where the browser ended up.
        has_password_form: whether the final page shows a password field (see `SIGNIN_PROBE_JS`).
    """
    want, got = urlparse(requested_url), urlparse(final_url)
    if got.scheme in ("about", "data", "chrome-error", "chrome") or not got.netloc:
        return None
    described = f"{got.netloc}{got.path}"
    if _IDP_HOST.search(got.hostname or ""):
        return f"identity provider {described}"
    if got.hostname != want.hostname:
        return f"another host {described}"
    if _SIGNIN_PATH.search(got.path) and not _SIGNIN_PATH.search(want.path):
        return f"sign-in page {described}"
    if has_password_form:
        return f"a sign-in form at {described}"
    return None
