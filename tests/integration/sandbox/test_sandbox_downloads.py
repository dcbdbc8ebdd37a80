"""Real headless Chromium clicks sandbox attachments: the bytes arrive exactly, decoys carry nothing."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from selenium.webdriver.chromium.webdriver import ChromiumDriver
from selenium.webdriver.common.by import By

from coupadl.sandbox import ATTACHMENT_FORMS, Attachment, PurchaseOrder, SandboxServer, Scenario, ServedFile
from support.waiting import wait_for

pytestmark = pytest.mark.browser

PO = "15262984"
_FILE_ROUTES = ("/attachment/attachment_file/", "/download", "/storage/signed/")

# What a user clicks for each form, inside the attachment's <li>.
_CLICK = {
    "button_span": ".attachment-file [role=button]",
    "anchor": "a:not(.attachment-info)",
    "anchor_download_attr": "a[download]",
    "data_url": ".file-link",
    "filename_query": "a",
    "role_button_ancestor": "[role=button]",  # the URL sits on the <li>, the page's script downloads
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _click_attachment(driver: ChromiumDriver, server: SandboxServer, served: ServedFile) -> None:
    driver.get(server.po_url(served.po))
    items = driver.find_elements(By.CSS_SELECTOR, "#attachments li.attachment")
    index = [f.attachment_id for f in server.files() if f.po == served.po].index(served.attachment_id)
    items[index].find_element(By.CSS_SELECTOR, _CLICK[served.attachment.form]).click()


def _file_hits(server: SandboxServer) -> list[tuple[str, int]]:
    return [(r.path, r.status) for r in server.requests() if any(route in r.path for route in _FILE_ROUTES)]


def _wait_for_file_hits(server: SandboxServer, count: int, timeout: float = 5.0) -> list[int]:
    """Statuses of the file-route requests once there are `count` of them."""
    deadline = time.monotonic() + timeout
    while len(_file_hits(server)) < count:
        assert time.monotonic() < deadline, f"expected {count} file requests: {server.requests()}"
        time.sleep(0.05)
    return [status for _, status in _file_hits(server)]


def test_every_attachment_form_yields_exactly_the_listed_bytes(
    sandbox_factory: Any, signed_in_driver: ChromiumDriver, downloads: Any
) -> None:
    attachments = [
        Attachment(f"{form}.pdf", size=40_000 + i, form=form) for i, form in enumerate(ATTACHMENT_FORMS)
    ]
    attachments += [
        Attachment("stored.zip", size=30_000, form="button_span", redirect=True),
        Attachment("stored link.xlsx", size=20_000, form="anchor", redirect=True),
    ]
    server = sandbox_factory(Scenario(pos=[PurchaseOrder(PO, "Acme GmbH", attachments=attachments)]))

    for served in server.files():
        folder = downloads.route(signed_in_driver)
        _click_attachment(signed_in_driver, server, served)
        (saved,) = downloads.wait(folder)
        assert saved.name == served.name
        assert _sha(saved) == served.sha256, served.attachment.form

    assert signed_in_driver.current_url == server.po_url(PO)  # no click navigated away
    assert sum(status == 302 for path, status in _file_hits(server)) == 2  # the two storage redirects


def test_decoys_carry_no_file(sandbox_factory: Any, signed_in_driver: ChromiumDriver, downloads: Any) -> None:
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder(PO, "Acme GmbH", attachments=[Attachment("quote.pdf", 1000)])])
    )
    driver = signed_in_driver
    folder = downloads.route(driver)
    # (decoy, the page it navigates to; None: it stays on the PO page)
    decoys = [
        ("li.attachment", None),  # the outer element: data-url is the "show" route
        ("a.attachment-info", "/attachments/1270815590"),  # the show route link
        ("a.help-link", "/help/manual"),
        ("a.related-order", "/order_headers/15262983"),
        ("div.comment", None),  # a data-url on a non-file element
        ("p.note", None),
        ("p.noise", None),
    ]
    for index, (selector, lands_on) in enumerate(decoys):
        driver.get(server.po_url(PO))
        element = driver.find_element(By.CSS_SELECTOR, selector)
        driver.execute_script("arguments[0].click();", element)  # the element itself, not a child
        if lands_on is None:
            # A request the page makes after the click handlers ran: anything the click started came first.
            marker = f"after={index}"
            driver.execute_script(f"fetch('/user/home?{marker}');")
            wait_for(lambda m=marker: any(r.query == m for r in server.requests()), f"the page's {marker}")
        else:
            visited = f"a visit of {lands_on}"
            wait_for(lambda p=lands_on: any(r.path == p for r in server.requests()), visited)

    # The real attachment, clicked last, is the only file: a download any decoy started would be there too.
    driver.get(server.po_url(PO))
    (served,) = server.files()
    _click_attachment(driver, server, served)
    (saved,) = downloads.wait(folder)
    assert [p.name for p in folder.iterdir()] == [saved.name] == ["quote.pdf"]
    assert [status for _, status in _file_hits(server)] == [200]


def test_a_file_failing_its_first_tries_arrives_on_a_later_click(
    sandbox_factory: Any, signed_in_driver: ChromiumDriver, downloads: Any
) -> None:
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder(PO, attachments=[Attachment("flaky.pdf", 25_000, fail_first=2)])])
    )
    (served,) = server.files()
    folder = downloads.route(signed_in_driver)
    for attempt in (1, 2):
        _click_attachment(signed_in_driver, server, served)
        assert _wait_for_file_hits(server, attempt) == [503] * attempt
        assert signed_in_driver.current_url == server.po_url(PO)  # the page script keeps the page

    _click_attachment(signed_in_driver, server, served)
    (saved,) = downloads.wait(folder)
    # The file that arrived after the two failed tries is the only one: they saved nothing.
    assert downloads.finished(folder) == [saved]
    assert _sha(saved) == served.sha256
    assert [s for _, s in _file_hits(server)] == [503, 503, 200]


def test_a_slow_file_is_partial_first_then_complete(
    sandbox_factory: Any, signed_in_driver: ChromiumDriver, downloads: Any
) -> None:
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder(PO, attachments=[Attachment("slow.pdf", 200_000, delay_s=1.0)])])
    )
    (served,) = server.files()
    folder = downloads.route(signed_in_driver)
    started = time.monotonic()
    _click_attachment(signed_in_driver, server, served)
    deadline = time.monotonic() + 1.0
    while not any(p.name.endswith(".crdownload") for p in folder.iterdir()):
        assert time.monotonic() < deadline, "no partial download appeared"
        time.sleep(0.05)
    (saved,) = downloads.wait(folder)
    assert time.monotonic() - started >= 0.9
    assert _sha(saved) == served.sha256


AWKWARD = [
    "../../etc/passwd.pdf",
    "scans/2024\\march.pdf",
    "CON.txt",
    "Übersicht Preise – 2024 東京.pdf",
    "B" * 200 + ".pdf",
    'report "final" <v2>: draft?.docx',
]

_FETCH_DISPOSITION = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "same-origin"})
  .then(r => r.arrayBuffer().then(() => done([r.status, r.headers.get("content-disposition")])))
  .catch(e => done([0, String(e)]));
"""


def test_awkward_names_reach_the_browser_in_content_disposition(
    sandbox_factory: Any, signed_in_driver: ChromiumDriver, downloads: Any
) -> None:
    server = sandbox_factory(
        Scenario(pos=[PurchaseOrder(PO, attachments=[Attachment(n, 500 + i) for i, n in enumerate(AWKWARD)])])
    )
    driver = signed_in_driver
    driver.get(server.po_url(PO))
    titles = [e.get_attribute("title") for e in driver.find_elements(By.CSS_SELECTOR, "[role=button]")]
    assert titles == AWKWARD  # the page shows the names as they are

    for served in server.files():
        status, header = driver.execute_async_script(_FETCH_DISPOSITION, served.path)
        assert status == 200
        assert header.startswith("attachment; filename=")
        assert unquote(header.split("filename*=UTF-8''", 1)[1]) == served.name

    # Chromium saves the traversal name inside the download folder, never above it.
    folder = downloads.route(driver)
    _click_attachment(driver, server, server.files()[0])
    (saved,) = downloads.wait(folder)
    assert saved.parent == folder and _sha(saved) == server.files()[0].sha256
