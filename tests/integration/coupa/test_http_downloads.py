"""Files over HTTP with the window's own session: real headless Chromium, the sandbox, `process_po`.

Each test reads the evidence of which path served a file from the worker's own log (`attachment.saved`,
`attachment.browser_fallback`, `http.disabled`) and from the sandbox's request log.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coupadl.browser.cookies import window_cookies
from coupadl.browser.session import BrowserSession
from coupadl.coupa.http_clients import http_health, reset_shared_clients
from coupadl.coupa.http_files import TEMP_PREFIX
from coupadl.coupa.job import JobOptions, process_po
from coupadl.coupa.task import POResult
from coupadl.errors import SessionExpiredError
from coupadl.log import bind, close_logging, configure_logging
from coupadl.sandbox import Attachment, PurchaseOrder, SandboxServer, Scenario
from coupadl.sandbox.app import SESSION_COOKIE
from support.po_tasks import po_task

pytestmark = [pytest.mark.browser]

Run = Callable[..., POResult]
PO = "15262984"


@pytest.fixture(autouse=True)
def fresh_http_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No system proxy from the machine, new clients and a usable HTTP path for every test."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    reset_shared_clients()
    http_health().reset()
    yield
    reset_shared_clients()
    http_health().reset()


@pytest.fixture
def log_file(short_tmp: Path) -> Iterator[Path]:
    path = short_tmp / "worker.jsonl"
    configure_logging(path, worker="A")
    try:
        yield path
    finally:
        close_logging()


def events(log_file: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines() if line.strip()]


def named(log_file: Path, event: str) -> list[dict[str, Any]]:
    return [e for e in events(log_file) if e["event"] == event]


@pytest.fixture
def run(session: BrowserSession, out_dir: Path) -> Run:
    """`run(server, number=PO, saved=None, **option overrides)` processes one PO in a fresh tab."""

    def go(
        server: SandboxServer, number: str = PO, saved: dict[str, str] | None = None, **overrides: Any
    ) -> POResult:
        options: dict[str, Any] = {
            "base_url": server.base_url,
            "out_dir": str(out_dir),
            "page_load_timeout": 20.0,
            "download_timeout": 60.0,
            "download_start_timeout": 8.0,
            "max_download_attempts": 3,
            "retry_backoff": 0.1,
        }
        options.update(overrides)
        with session.open_tab(number, f"PO{number}") as tab:
            result = process_po(tab, po_task(server, number, saved), JobOptions.from_mapping(options))
        assert list(session.download_dir.iterdir()) == [], "the staging folder must be left empty"
        return result

    return go


def folder_files(result: POResult) -> dict[str, str]:
    folder = Path(result.download_folder)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def one_po(*attachments: Attachment, **scenario: Any) -> Scenario:
    return Scenario(pos=[PurchaseOrder(PO, "Acme GmbH", attachments=attachments)], **scenario)


# --- a plain proxy that refuses everyone (what a corporate proxy does to a client it does not know) -------


class _Refusing(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = b"Proxy authentication required"
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="corp"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_CONNECT = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def refusing_proxy() -> Iterator[tuple[str, list[str]]]:
    """A loopback proxy answering 407 to every request: (its host:port, the request lines it saw)."""
    hits: list[str] = []
    handler = type("Handler", (_Refusing,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# --- the tests --------------------------------------------------------------------------------------------


def test_window_cookies_are_read_per_url_host(session: BrowserSession, sandbox: SandboxServer) -> None:
    """The sign-in cookie belongs to 127.0.0.1: the browser gives it for that host only."""
    tenant = window_cookies(session, sandbox.url("/attachment/attachment_file/type/1/x.pdf"))
    other = window_cookies(session, f"http://localhost:{sandbox.port}/storage/signed/abc")
    assert SESSION_COOKIE in {c.name for c in tenant}
    assert SESSION_COOKIE not in {c.name for c in other}
    assert all(c.value not in repr(c) for c in tenant)  # a value never shows in a repr (logs, tracebacks)
    assert "Chrome" in session.user_agent()


def test_redirect_to_a_storage_host_with_another_name(sandbox_factory: Any, run: Run, log_file: Path) -> None:
    files = [
        Attachment("drawings.zip", size=250_000, redirect=True),
        Attachment("certificate.pdf", size=20_000, form="anchor", redirect=True),
    ]
    server = sandbox_factory(one_po(*files, storage_host="localhost"))

    result = run(server, download_mode="http")  # no fallback: only the HTTP path can have saved them

    assert result.status == "COMPLETED"
    assert folder_files(result) == {f.name: f.sha256 for f in server.files()}
    storage = [r for r in server.requests() if r.path.startswith("/storage/signed/")]
    assert [(r.host, r.status) for r in storage] == [(f"localhost:{server.port}", 200)] * 2
    assert not named(log_file, "attachment.browser_fallback")
    assert len(named(log_file, "attachment.saved")) == 2


def test_server_error_then_success_is_retried_at_once(sandbox_factory: Any, run: Run) -> None:
    server = sandbox_factory(one_po(Attachment("unstable.pdf", size=40_000, fail_first=1, fail_status=500)))
    started = time.monotonic()
    result = run(server, download_start_timeout=30.0)
    elapsed = time.monotonic() - started
    assert result.status == "COMPLETED"
    assert folder_files(result) == {"unstable.pdf": server.files()[0].sha256}
    statuses = [r.status for r in server.requests() if r.path.startswith("/attachment/")]
    assert statuses == [500, 200]
    # The in-page download could only give up on a failed start after `download_start_timeout`.
    assert elapsed < 30.0


def test_session_expiring_between_page_and_file_is_session_expiry(
    sandbox_factory: Any, run: Run, out_dir: Path
) -> None:
    server = sandbox_factory(one_po(Attachment("quote.pdf", expire_session=True)))
    with pytest.raises(SessionExpiredError) as caught:
        run(server)
    assert "/sessions/new" in caught.value.redirected_to
    assert not [p for p in out_dir.rglob("*") if p.is_file()]  # no sign-in page kept as "quote.pdf"


def test_file_url_only_a_click_reveals_is_clicked_in_the_page(
    sandbox_factory: Any, run: Run, log_file: Path
) -> None:
    files = [Attachment("hidden.pdf", size=30_000, click_only=True), Attachment("plain.pdf", form="anchor")]
    server = sandbox_factory(one_po(*files))

    result = run(server)

    assert result.status == "COMPLETED"
    assert list(result.attachment_names) == ["hidden.pdf", "plain.pdf"]
    assert folder_files(result) == {f.name: f.sha256 for f in server.files()}
    hidden_route = f"/attachments/{server.files()[0].attachment_id}/download"
    assert [r.status for r in server.requests() if r.path == hidden_route] == [200]
    saved = {e["file"]: e for e in named(log_file, "attachment.saved")}
    assert set(saved) == {"hidden.pdf", "plain.pdf"}
    # And a rerun knows the clicked file by its key: nothing is downloaded twice.
    before = len(server.requests())
    again = run(server, saved={f.key: f.name for f in result.files})
    assert again.status == "COMPLETED"
    assert again.files == ()
    assert not [r for r in server.requests()[before:] if "download" in r.path or "attachment_file" in r.path]


def test_proxy_refusing_with_407_falls_back_to_the_page(
    sandbox_factory: Any,
    run: Run,
    log_file: Path,
    refusing_proxy: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, hits = refusing_proxy
    monkeypatch.setenv("http_proxy", f"http://{address}")  # the system proxy; the browser was started without
    server = sandbox_factory(one_po(Attachment("quote.pdf", size=50_000)))

    result = run(server)

    assert result.status == "COMPLETED"
    assert folder_files(result) == {"quote.pdf": server.files()[0].sha256}
    assert len(hits) == 1 and hits[0].startswith(f"{server.base_url}/attachment/")
    (fallback,) = named(log_file, "attachment.browser_fallback")
    assert "407" in fallback["reason"]


def test_tls_failure_to_the_proxy_falls_back_to_the_page(
    sandbox_factory: Any,
    run: Run,
    log_file: Path,
    refusing_proxy: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, _hits = refusing_proxy
    monkeypatch.setenv("http_proxy", f"https://{address}")  # a TLS proxy address; it speaks plain HTTP
    server = sandbox_factory(one_po(Attachment("quote.pdf", size=50_000, form="data_url")))

    result = run(server)

    assert result.status == "COMPLETED"
    assert folder_files(result) == {"quote.pdf": server.files()[0].sha256}
    (fallback,) = named(log_file, "attachment.browser_fallback")
    assert "ConnectError" in fallback["reason"] or "SSL" in fallback["reason"]


def test_three_refusals_in_a_row_turn_http_off_for_the_run_with_one_warning(
    sandbox_factory: Any,
    run: Run,
    log_file: Path,
    refusing_proxy: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, hits = refusing_proxy
    monkeypatch.setenv("http_proxy", f"http://{address}")
    files = [Attachment(f"doc{i}.pdf", size=10_000 + i, form="anchor") for i in range(5)]
    server = sandbox_factory(one_po(*files))

    result = run(server, download_concurrency=1)

    assert result.status == "COMPLETED"
    assert folder_files(result) == {f.name: f.sha256 for f in server.files()}
    assert len(hits) == 3  # the first three tried HTTP; then the page only
    assert len(named(log_file, "http.disabled")) == 1
    assert not http_health().usable


def test_two_files_with_one_name_keep_page_order_whatever_finishes_first(
    sandbox_factory: Any, run: Run
) -> None:
    files = [
        Attachment("quote.pdf", size=300_000, delay_s=1.5),  # finishes last
        Attachment("quote.pdf", size=13_000, form="anchor"),
    ]
    server = sandbox_factory(one_po(*files))
    result = run(server)
    first, second = server.files()
    assert result.status == "COMPLETED"
    assert list(result.attachment_names) == ["quote.pdf", "quote (2).pdf"]
    assert folder_files(result) == {"quote.pdf": first.sha256, "quote (2).pdf": second.sha256}


def test_leftover_temporary_files_are_removed_when_the_po_is_processed_again(
    sandbox_factory: Any, run: Run, out_dir: Path
) -> None:
    server = sandbox_factory(one_po(Attachment("quote.pdf")))
    folder = out_dir / "Acme GmbH" / f"PO{PO}"
    folder.mkdir(parents=True)
    leftover = folder / f"{TEMP_PREFIX}0123456789abcdef.part"
    leftover.write_bytes(b"half a file from a killed worker")
    result = run(server)
    assert result.status == "COMPLETED"
    assert sorted(p.name for p in folder.iterdir()) == ["quote.pdf"]


def test_cookie_values_never_reach_a_log(
    sandbox_factory: Any,
    run: Run,
    session: BrowserSession,
    log_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = [
        Attachment("a.pdf", redirect=True),
        Attachment("b.pdf", form="anchor", fail_first=1, fail_status=500),
    ]
    server = sandbox_factory(one_po(*files, storage_host="localhost"))
    secrets = [c.value for c in window_cookies(session, server.url("/")) if len(c.value) >= 8]
    assert secrets, "the signed-in window must have a session cookie to protect"

    bind(po=f"PO{PO}")  # as the worker does for each task
    try:
        with caplog.at_level(logging.DEBUG):  # even with every standard logger at DEBUG
            result = run(server)
    finally:
        bind(po=None)

    assert result.status == "COMPLETED"
    text = log_file.read_text(encoding="utf-8")
    assert "attachment.saved" in text
    lines = events(log_file)
    assert [e for e in lines if e["event"] == "attachment.retry"], "the retry is logged by a helper thread"
    assert all(e.get("worker") == "A" and e.get("po") == f"PO{PO}" for e in lines), lines
    captured = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    for value in secrets:
        assert value not in text
        assert value not in captured
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
