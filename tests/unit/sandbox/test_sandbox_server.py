"""`SandboxServer` over a real socket, the command line, and the package's public face."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import coupadl.sandbox as sandbox
from coupadl.sandbox import SESSION_COOKIE, Attachment, PurchaseOrder, SandboxServer, Scenario
from coupadl.sandbox.__main__ import main
from support.waiting import wait_for


def _get(url: str, cookie: str | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn.request("GET", target, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_server_binds_a_free_loopback_port_and_stops_cleanly() -> None:
    before = threading.active_count()
    with SandboxServer(Scenario.small()) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.sso_base_url == f"http://localhost:{server.port}"
        assert _get(server.url("/user/home")).status == 302
        port = server.port
    assert not _port_open(port)
    server.stop()  # twice is harmless
    wait_for(lambda: threading.active_count() <= before, "the server's threads to end", timeout=5.0)
    with pytest.raises(RuntimeError):
        _ = server.base_url


def test_one_sign_in_is_valid_on_every_instance_until_that_instance_expires_it() -> None:
    with SandboxServer() as first, SandboxServer() as second:
        response = _get(first.url("/sandbox/autologin?next=/user/home"))
        cookie = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
        assert _get(second.url("/user/home"), cookie).status == 200
        second.expire_all_sessions()
        assert _get(second.url("/user/home"), cookie).status == 302
        assert _get(first.url("/user/home"), cookie).status == 200
        assert [r.status for r in second.requests() if r.path == "/user/home"] == [200, 302]


def test_concurrent_slow_pages_are_served_in_parallel() -> None:
    with SandboxServer(Scenario(page_latency_s=0.5)) as server:
        cookie = _get(server.url("/sandbox/autologin")).headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
        started = time.monotonic()
        threads = [threading.Thread(target=_get, args=(server.url("/user/home"), cookie)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - started < 1.5
        assert sum(r.path == "/user/home" and r.status == 200 for r in server.requests()) == 4


def test_files_are_listed_from_python_and_http() -> None:
    scenario = Scenario(
        pos=[PurchaseOrder("123456", attachments=[Attachment("a.pdf", content=b"%PDF-1.4 a")])]
    )
    with SandboxServer(scenario) as server:
        (served,) = server.files()
        assert (served.po, served.name, served.size) == ("123456", "a.pdf", 10)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/sandbox/files")
        listing = json.loads(conn.getresponse().read())
        conn.close()
        assert listing == [served.to_dict()]


def test_cli_dumps_the_demo_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "--latency", "0.25", "--dump-scenario"]) == 0
    scenario = Scenario.from_json(capsys.readouterr().out)
    assert scenario.page_latency_s == 0.25 and len(scenario.pos) == len(Scenario.demo().pos)


def test_cli_reads_a_scenario_file_and_refuses_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "s.json"
    Scenario(pos=[PurchaseOrder("777777")]).dump(good)
    assert main(["--scenario", str(good), "--dump-scenario"]) == 0
    assert '"777777"' in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"pos": [{"number": "x"}]}', encoding="utf-8")
    assert main(["--scenario", str(bad)]) == 2
    assert "PO number must be a string of digits" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--demo", "--scenario", str(good)])


def test_public_names_are_exactly_these_and_exist() -> None:
    assert sorted(sandbox.__all__) == sorted(set(sandbox.__all__))  # no duplicate
    assert set(sandbox.__all__) == {
        "ATTACHMENT_FORMS", "SESSION_COOKIE", "Attachment", "AttachmentForm", "PoKind", "PoLine",
        "PurchaseOrder", "RequestRecord", "Requisition", "SandboxServer", "Scenario", "ServedFile", "Site",
        "cookie_db_path", "create_app", "has_session_cookie", "sign_in_profile", "site_of",
    }  # fmt: skip
    for name in sandbox.__all__:
        assert getattr(sandbox, name) is not None, name
