"""Real headless Chromium against the sandbox: sign-in redirects, the signed-in profile, session expiry."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.chromium.webdriver import ChromiumDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from coupadl.sandbox import PurchaseOrder, SandboxServer, Scenario, cookie_db_path, has_session_cookie

pytestmark = pytest.mark.browser

PO = "15262984"


def _supplier(driver: ChromiumDriver) -> str:
    return str(
        driver.find_element(By.CSS_SELECTOR, "span[data-supplier-name]").get_attribute("data-supplier-name")
    )


def test_signed_out_browser_goes_through_the_sso_hop_to_the_sign_in_form(
    sandbox: SandboxServer, driver_factory: Any, short_tmp: Path
) -> None:
    driver = driver_factory(short_tmp / "blank")
    driver.get(sandbox.po_url(PO))

    landed = urlsplit(driver.current_url)
    assert (landed.hostname, landed.port, landed.path) == ("127.0.0.1", sandbox.port, "/sessions/new")
    assert parse_qs(landed.query)["return_to"] == [f"/order_headers/{PO}"]
    hops = [(r.host, r.path, r.status) for r in sandbox.requests()]
    assert hops == [
        (f"127.0.0.1:{sandbox.port}", f"/order_headers/{PO}", 302),
        (f"127.0.0.1:{sandbox.port}", "/sessions/new", 302),
        (f"localhost:{sandbox.port}", "/sso/authorize", 302),
        (f"127.0.0.1:{sandbox.port}", "/sessions/new", 200),
    ]

    driver.find_element(By.ID, "user_email").send_keys("buyer@example.com")
    driver.find_element(By.ID, "user_password").send_keys("secret")
    driver.find_element(By.ID, "sign_in_button").click()
    # The click returns before the browser has left the form: wait for the PO page itself.
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "span[data-supplier-name]"))
    assert driver.current_url == sandbox.po_url(PO)
    assert _supplier(driver) == "Acme GmbH"


def test_the_signed_in_profile_has_its_cookie_on_disk(signed_in_profile: Path, short_tmp: Path) -> None:
    db = cookie_db_path(signed_in_profile)
    assert db is not None and db.stat().st_size > 0
    assert has_session_cookie(signed_in_profile, "127.0.0.1")
    assert not has_session_cookie(signed_in_profile, "localhost")
    assert not has_session_cookie(short_tmp, "127.0.0.1")  # no profile at all


def test_the_signed_in_profile_reaches_a_po_page_on_another_instance_without_redirect(
    sandbox: SandboxServer, signed_in_driver: ChromiumDriver
) -> None:
    signed_in_driver.get(sandbox.po_url(PO))

    assert signed_in_driver.current_url == sandbox.po_url(PO)
    assert _supplier(signed_in_driver) == "Acme GmbH"
    assert [(r.path, r.status) for r in sandbox.requests()] == [(f"/order_headers/{PO}", 200)]
    assert sandbox.requests()[0].session is not None


def test_sessions_expire_after_n_views_and_on_demand_per_instance(
    sandbox_factory: Any, signed_in_driver: ChromiumDriver
) -> None:
    limited = sandbox_factory(Scenario(pos=[PurchaseOrder(PO, "Acme GmbH")], expire_after_views=2))
    other = sandbox_factory(Scenario(pos=[PurchaseOrder(PO, "Acme GmbH")]))
    driver = signed_in_driver

    for _ in range(2):
        driver.get(limited.po_url(PO))
        assert driver.current_url == limited.po_url(PO)
    driver.get(limited.po_url(PO))
    assert urlsplit(driver.current_url).path == "/sessions/new"
    assert driver.find_elements(By.ID, "user_password")

    driver.get(other.po_url(PO))  # the same cookie is still good elsewhere
    assert driver.current_url == other.po_url(PO)
    other.expire_all_sessions()
    driver.get(other.po_url(PO))
    assert urlsplit(driver.current_url).path == "/sessions/new"
    assert [r.status for r in other.requests() if r.path == f"/order_headers/{PO}"] == [200, 302]
