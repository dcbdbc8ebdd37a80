"""`fetch_file` and its helpers, on httpx's in-memory transport: hops, names, refusals, sizes, leftovers.

(The real network path, with a real browser's cookies, is tested in
tests/integration/coupa/test_http_downloads.py.)
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from coupadl.cli.wiring import handler_options
from coupadl.coupa.downloads import AttachmentDownloader, DownloadMode, DownloadSettings
from coupadl.coupa.http_clients import HttpClients, HttpHealth
from coupadl.coupa.http_files import (
    TEMP_PREFIX,
    FetchCancelled,
    FetchLimits,
    HttpRefused,
    HttpTryFailed,
    fetch_file,
    is_temp_name,
    sweep_temp_files,
)
from coupadl.coupa.job import JobOptions
from coupadl.coupa.page import Attachment as PageAttachment
from coupadl.coupa.page import PageKind, POPage, Trigger
from coupadl.errors import ConfigError, PermanentTaskError, SessionExpiredError
from coupadl.settings import load_settings

PAGE = "https://acme.coupahost.com/order_headers/15262984"
FILE = "https://acme.coupahost.com/attachment/attachment_file/type/1/quote.pdf"
STORAGE = "https://files.acme-storage.example/signed/abc?sig=1"
BODY = b"%PDF-1.7 " + bytes(range(256)) * 40

Handler = Callable[[httpx.Request], httpx.Response]


def clients(handler: Handler) -> HttpClients:
    return HttpClients(proxies={}, transport=httpx.MockTransport(handler))


def fetch(
    handler: Handler,
    folder: Path,
    *,
    cookies: dict[str, str] | None = None,
    asked: list[str] | None = None,
    cancel: threading.Event | None = None,
    url: str = FILE,
) -> Any:
    def cookie_header(target: str) -> str:
        if asked is not None:
            asked.append(target)
        return (cookies or {}).get(httpx.URL(target).host, "")

    return fetch_file(
        clients(handler),
        url,
        folder,
        page_url=PAGE,
        cookie_header=cookie_header,
        user_agent="Mozilla/5.0 TestChrome",
        limits=FetchLimits(connect=2, stall=2, total=10),
        cancel=cancel,
    )


def file_response(body: bytes = BODY, **headers: str) -> httpx.Response:
    base = {"Content-Disposition": 'attachment; filename="quote.pdf"', "Content-Length": str(len(body))}
    base.update(headers)
    return httpx.Response(200, headers=base, content=body)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir()]


def test_file_is_streamed_into_a_hidden_temporary_name_with_its_digest(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return file_response()

    got = fetch(handler, tmp_path, cookies={"acme.coupahost.com": "_coupa_session=s3cret"})

    assert got.temp.parent == tmp_path and is_temp_name(got.temp.name) and got.temp.name.startswith(".")
    assert got.temp.read_bytes() == BODY
    assert (got.size, got.sha256) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    assert got.name == "quote.pdf"
    (request,) = seen
    assert request.headers["cookie"] == "_coupa_session=s3cret"
    assert request.headers["user-agent"] == "Mozilla/5.0 TestChrome"
    assert request.headers["referer"] == PAGE


def test_each_redirect_hop_gets_the_cookies_of_its_own_host(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "acme.coupahost.com":
            return httpx.Response(302, headers={"Location": STORAGE})
        name = "Übersicht Preise 東京.pdf"
        disposition = "attachment; filename=\"_bersicht.pdf\"; filename*=UTF-8''" + httpx.URL(
            "http://x/" + name
        ).raw_path.decode().lstrip("/")
        return file_response(**{"Content-Disposition": disposition})

    asked: list[str] = []
    cookies = {"acme.coupahost.com": "_coupa_session=tenant", "files.acme-storage.example": "edge=storage"}
    got = fetch(handler, tmp_path, cookies=cookies, asked=asked)

    assert asked == [FILE, STORAGE]
    assert [r.headers.get("cookie") for r in seen] == ["_coupa_session=tenant", "edge=storage"]
    assert "referer" not in seen[1].headers  # the page's address stays with the tenant
    assert got.final_url == STORAGE
    assert got.name == "Übersicht Preise 東京.pdf"  # RFC 2231 name preferred over the ASCII one


def test_name_falls_back_to_the_final_urls_last_segment(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=BODY)

    got = fetch(handler, tmp_path, url="https://acme.coupahost.com/attachments/1/download%20me.pdf")
    assert got.name == "download me.pdf"


@pytest.mark.parametrize(
    "location",
    [
        "/sessions/new?return_to=%2Fattachment",
        "https://login.microsoftonline.com/tenant/oauth2/authorize",
    ],
)
def test_redirect_to_sign_in_is_session_expiry(tmp_path: Path, location: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": location})

    with pytest.raises(SessionExpiredError):
        fetch(handler, tmp_path)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("status", [401, 403, 407])
def test_authorisation_refusals_send_the_file_to_the_browser(tmp_path: Path, status: int) -> None:
    with pytest.raises(HttpRefused, match=str(status)):
        fetch(lambda r: httpx.Response(status), tmp_path)


@pytest.mark.parametrize("status", [500, 503, 429, 404])
def test_server_errors_are_tries_to_repeat(tmp_path: Path, status: int) -> None:
    with pytest.raises(HttpTryFailed, match=str(status)):
        fetch(lambda r: httpx.Response(status), tmp_path)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]"), HttpRefused),
        (httpx.ProxyError("407 Proxy Authentication Required"), HttpRefused),
        (httpx.ConnectTimeout("timed out"), HttpRefused),
        (httpx.ReadTimeout("timed out"), HttpTryFailed),
    ],
)
def test_transport_errors(tmp_path: Path, error: Exception, kind: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(kind):
        fetch(handler, tmp_path)


def test_a_short_body_is_a_failed_try_and_leaves_nothing(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return file_response(**{"Content-Length": str(len(BODY) + 10)})

    with pytest.raises(HttpTryFailed, match="announced"):
        fetch(handler, tmp_path)
    assert leftovers(tmp_path) == []


def test_cancel_stops_and_removes_the_temporary_file(tmp_path: Path) -> None:
    cancel = threading.Event()

    def chunks() -> Any:
        yield BODY[:100]
        cancel.set()
        yield BODY[100:]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    with pytest.raises(FetchCancelled):
        fetch(handler, tmp_path, cancel=cancel)
    assert leftovers(tmp_path) == []


def test_too_many_redirects(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": str(request.url.copy_with(query=b"again=1"))})

    with pytest.raises(HttpTryFailed, match="redirects"):
        fetch(handler, tmp_path)


def test_sweep_removes_only_temporary_downloads(tmp_path: Path) -> None:
    (tmp_path / f"{TEMP_PREFIX}abc.part").write_bytes(b"x")
    (tmp_path / "quote.pdf").write_bytes(b"keep")
    (tmp_path / ".coupadl-notes.txt").write_bytes(b"keep")
    assert sweep_temp_files(tmp_path) == [f"{TEMP_PREFIX}abc.part"]
    assert sorted(leftovers(tmp_path)) == [".coupadl-notes.txt", "quote.pdf"]
    assert sweep_temp_files(tmp_path / "missing") == []


def test_health_turns_http_off_after_three_refusals_in_a_row_with_one_warning() -> None:
    health = HttpHealth(limit=3)
    with capture_logs() as logs:
        health.refused("a")
        health.refused("b")
        health.succeeded()  # a success in between: the count starts again
        health.refused("c")
        health.refused("d")
        assert health.usable
        health.refused("e")
        assert not health.usable
        for _ in range(5):
            health.refused("more")
    assert not health.usable
    warnings = [e for e in logs if e["event"] == "http.disabled"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning" and warnings[0]["reason"] == "e"


def test_system_proxy_and_its_bypass_decide_per_url() -> None:
    proxied = HttpClients(
        proxies={"https": "proxy.corp:8080", "http": "http://proxy.corp:8080"},
        bypass=lambda host: host.endswith(".internal"),
    )
    assert proxied.proxy_for("https://acme.coupahost.com/x") == "http://proxy.corp:8080"
    assert proxied.proxy_for("https://files.internal/x") is None
    assert HttpClients(proxies={}).proxy_for("https://acme.coupahost.com/x") is None
    assert HttpClients(proxies={"all": "socks5://p:1080"}, bypass=lambda h: False).proxy_for("http://a/") == (
        "socks5://p:1080"
    )


def test_download_settings_reach_the_job_options() -> None:
    settings = load_settings(
        {"base_url": "https://a.example", "download_mode": "browser", "download_concurrency": 5}
    )
    assert (settings.download_mode, settings.download_concurrency) == ("browser", 5)
    assert load_settings({}).download_mode == "auto"
    with pytest.raises(ConfigError, match="download-mode"):
        load_settings({"download_mode": "fast"})
    with pytest.raises(ConfigError, match="download-concurrency"):
        load_settings({"download_concurrency": 0})
    options = JobOptions.from_mapping(
        {"base_url": "https://a", "out_dir": "/tmp/x", "download_mode": "http", "download_concurrency": 2}
    )
    wired = handler_options(settings, Path("/tmp/out"))
    assert (wired["download_mode"], wired["download_concurrency"]) == ("browser", 5)
    download = options.download_settings()
    assert (download.mode.value, download.concurrency) == ("http", 2)
    with pytest.raises(PermanentTaskError):
        JobOptions.from_mapping({"base_url": "https://a", "out_dir": "/tmp/x", "download_mode": "fast"})


# --- the downloader's HTTP path, with a scripted window ------------------------------------------------


class FakeSession:
    """Answers the two questions the HTTP path asks a window: cookies for a URL, its User-Agent."""

    def __init__(self) -> None:
        self.cookie_urls: list[str] = []

    def cdp(self, action: str, command: str, params: dict[str, Any]) -> dict[str, Any]:
        assert command == "Network.getCookies"
        self.cookie_urls.extend(params["urls"])
        return {"cookies": [{"name": "_coupa_session", "value": "s3cret", "domain": "acme.coupahost.com"}]}

    def user_agent(self) -> str:
        return "Mozilla/5.0 TestChrome"


class FakeTab:
    def __init__(self, staging: Path) -> None:
        self.session = FakeSession()
        self.download_dir = staging


def http_downloader(tmp_path: Path, handler: Handler) -> tuple[AttachmentDownloader, FakeTab, Path]:
    tab = FakeTab(tmp_path / "staging")
    folder = tmp_path / "out" / "Acme" / "PO15262984"
    settings = DownloadSettings(mode=DownloadMode.HTTP, max_attempts=2, backoff_initial=0.0, backoff_max=0.0)
    downloader = AttachmentDownloader(
        tab,
        folder,
        settings,
        reload=lambda p: pytest.fail("no reload"),
        clients=clients(handler),
        health=HttpHealth(),
    )
    return downloader, tab, folder


def link(url: str) -> PageAttachment:
    return PageAttachment(
        key=url, url=url, name_hint=url.rsplit("/", 1)[-1], trigger=Trigger.LINK, ref="0", form="anchor"
    )


def page_of(*attachments: PageAttachment) -> POPage:
    return POPage(url=PAGE, kind=PageKind.CONTENT, supplier="Acme", attachments=attachments, marker="m")


def test_sign_in_page_served_as_the_file_is_session_expiry_and_is_not_kept(tmp_path: Path) -> None:
    html = b'<!DOCTYPE html><html><form action="/sessions"><input id="user_password" type="password"></form>'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=html)

    downloader, tab, folder = http_downloader(tmp_path, handler)
    with pytest.raises(SessionExpiredError):
        downloader.download_page(page_of(link(FILE)), {})
    assert not folder.exists()
    assert tab.session.cookie_urls == [FILE]


def test_http_files_are_placed_in_page_order_and_a_failed_one_is_reported(tmp_path: Path) -> None:
    second = FILE.replace("type/1/quote.pdf", "type/2/quote.pdf")
    broken = FILE.replace("type/1/quote.pdf", "type/3/broken.pdf")
    bodies = {FILE: b"first", second: b"second"}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["cookie"] == "_coupa_session=s3cret"
        body = bodies.get(str(request.url))
        if body is None:
            return httpx.Response(500)
        return file_response(body)

    downloader, _tab, folder = http_downloader(tmp_path, handler)
    report = downloader.download_page(page_of(link(FILE), link(broken), link(second)), {})

    assert report.names == ["quote.pdf", "quote (2).pdf"]
    assert (folder / "quote.pdf").read_bytes() == b"first"
    assert (folder / "quote (2).pdf").read_bytes() == b"second"
    (failed,) = report.failed
    assert failed.attachment.key == broken and "500" in failed.reason
    assert sorted(p.name for p in folder.iterdir()) == ["quote (2).pdf", "quote.pdf"]  # no temporary file
