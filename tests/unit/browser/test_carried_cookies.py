"""Which of the base's cookies are carried to remote windows, and how they are handed to the browser."""

from __future__ import annotations

from typing import Any

from coupadl.browser.carried import CarriedCookie, keep_cookie_domain, select_cookies
from coupadl.browser.discovery import Executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.remote import RemoteConfig, remote_options
from coupadl.settings import BrowserKind


def _cdp(name: str, domain: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "value": f"secret-{name}", "domain": domain, "path": "/", **extra}


def test_only_the_tenant_and_configured_sso_and_storage_hosts_are_kept() -> None:
    raw = [
        _cdp("tenant", "acme.coupahost.com", expires=-1, session=True, httpOnly=True, sameSite="Lax"),
        _cdp("parent", ".coupahost.com", expires=2_000_000_000.0, session=False),
        _cdp("sibling", "other.coupahost.com"),
        _cdp("sso", ".login.microsoftonline.com"),
        _cdp("okta", "acme.okta.com"),
        _cdp("bank", ".mybank.example"),
        _cdp("chips", "acme.coupahost.com", partitionKey={"topLevelSite": "https://x.example"}),
        {"name": "", "value": "x", "domain": "acme.coupahost.com"},
    ]
    kept = select_cookies(raw, "https://acme.coupahost.com/user/home", ["microsoftonline.com", ".okta.com"])
    assert [c.name for c in kept] == ["tenant", "parent", "sso", "okta"]
    tenant, parent = kept[0], kept[1]
    assert tenant.expires is None and tenant.http_only and tenant.same_site == "Lax"
    assert parent.expires == 2_000_000_000.0
    assert tenant.applies_to("acme.coupahost.com") and not tenant.applies_to("x.acme.coupahost.com")
    assert parent.applies_to("acme.coupahost.com")


def test_domain_rules() -> None:
    assert keep_cookie_domain("127.0.0.1", "127.0.0.1", [])
    assert not keep_cookie_domain("localhost", "127.0.0.1", [])
    assert keep_cookie_domain("localhost", "127.0.0.1", ["localhost"])
    assert not keep_cookie_domain(".evilcoupahost.com", "acme.coupahost.com", [])
    assert not keep_cookie_domain("", "acme.coupahost.com", [""])


def test_values_are_hidden_from_repr_and_given_to_the_browser_intact() -> None:
    host_only = CarriedCookie("s", "v4lue", "acme.coupahost.com", "/", secure=True, same_site="Lax")
    domain = CarriedCookie("d", "v2", ".coupahost.com", "/app", expires=1_900_000_000.5)
    assert "v4lue" not in repr(host_only) and "v4lue" not in str([host_only])
    assert host_only.cdp_params("http") == {
        "name": "s", "value": "v4lue", "path": "/", "secure": True, "httpOnly": False,
        "url": "https://acme.coupahost.com/", "sameSite": "Lax",
    }  # fmt: skip
    assert domain.cdp_params("https")["domain"] == ".coupahost.com"
    assert domain.cdp_params("https")["expires"] == 1_900_000_000.5
    assert "domain" not in host_only.webdriver_params()
    assert domain.webdriver_params()["expiry"] == 1_900_000_000


def test_remote_options_keep_the_local_switches_but_no_profile_or_binary(tmp_path: Any) -> None:
    launch = LaunchConfig(Executables(BrowserKind.CHROMIUM, tmp_path / "chromium", tmp_path / "chromedriver"))
    options = remote_options(RemoteConfig("http://127.0.0.1:4444", launch))
    args = options.arguments
    assert "--disable-background-networking" in args and "--headless=new" in args and "--no-sandbox" in args
    assert not [a for a in args if a.startswith(("--user-data-dir", "--profile-directory", "--restore"))]
    caps = options.to_capabilities()
    assert caps["se:downloadsEnabled"] is True
    assert "binary" not in caps["goog:chromeOptions"]
