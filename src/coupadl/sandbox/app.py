"""The Flask app of the Coupa-like sandbox: sign-in through an SSO-like hop, PO pages, file routes.

Protected routes redirect signed-out requests to `/sessions/new?return_to=...`:

- `/user/home`: light authenticated landing page.
- `/order_headers/<n>`, `/requisition_headers/<n>`: PO and requisition pages (or 200 "Oops" / "not
  authorized" pages in the PO's language, a redirect home, HTTP 404 / 403, or 429 with `Retry-After` for
  the first requests: see `PurchaseOrder`).
- `/attachment/attachment_file/type|file/<id>/<name>`, `/attachments/<id>/download`: file routes.
- `/attachments/<id>`, `/comments/<n>` (and the unprotected `/help/manual`): decoys, HTML, never a file.

Open routes:

- `/storage/signed/<token>`: the signed storage URL a file route may redirect to.
- `/sessions/new` → `/sso/authorize` (on `sso_host`) → `/sessions/new?sso=done` (form) → `POST /sessions`.
- For tests and the demo: `/sandbox/autologin?next=...`, `POST /sandbox/expire`, `/sandbox/requests`,
  `/sandbox/files`, `/sandbox/scenario`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import wraps
from typing import ParamSpec
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, g, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from coupadl.sandbox.catalog import ServedFile
from coupadl.sandbox.disposition import content_disposition, content_type
from coupadl.sandbox.pages import Pages
from coupadl.sandbox.scenario import Scenario
from coupadl.sandbox.site import Site
from coupadl.sandbox.state import RequestRecord
from coupadl.sandbox.tokens import DEFAULT_SECRET, SessionToken, session_hash

__all__ = ["SESSION_COOKIE", "create_app", "site_of"]

SESSION_COOKIE = "_coupa_session"
_EXTENSION = "coupadl.sandbox"
_HOME = "/user/home"
_UNLOGGED = ("/sandbox/requests", "/sandbox/files", "/sandbox/scenario")
_SLOW_CHUNKS = 10

P = ParamSpec("P")


def site_of(app: Flask) -> Site:
    """The `Site` behind an app made by `create_app`."""
    site = app.extensions[_EXTENSION]
    assert isinstance(site, Site)
    return site


def _local_path(value: str | None, default: str = _HOME) -> str:
    """`value` if it is a path on this site (no scheme, no host, no `//`), else `default`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else default


def _port() -> str:
    return request.host.rpartition(":")[2] if ":" in request.host else ""


def create_app(scenario: Scenario | None = None, *, secret: bytes = DEFAULT_SECRET) -> Flask:
    """Build the sandbox app for `scenario` (the small default site when None).

    Args:
        scenario: What to serve.
        secret: Key of the stateless session tokens; instances with the same key share sessions.

    Returns:
        The Flask app; `site_of(app)` gives its files, request log and session controls.
    """
    site = Site(scenario or Scenario.small(), secret)
    app = Flask("coupadl.sandbox")
    app.extensions[_EXTENSION] = site
    pages = Pages(app.jinja_env)
    sc = site.scenario

    # --- sessions ---------------------------------------------------------------------------------

    def current_session() -> SessionToken | None:
        token = site.signer.read_session(request.cookies.get(SESSION_COOKIE), sc.cookie_max_age_s)
        if token is None or site.state.is_revoked(token):
            return None
        return token

    def to_sign_in() -> BaseResponse:
        target = request.path + (f"?{request.query_string.decode('latin-1')}" if request.query_string else "")
        return redirect(f"/sessions/new?{urlencode({'return_to': target})}")

    def signed_in_response(location: str) -> BaseResponse:
        response = redirect(location)
        response.set_cookie(
            SESSION_COOKIE,
            site.signer.new_session(),
            # Without Max-Age the browser keeps the cookie only while it restores its last session.
            max_age=None if sc.session_only_cookie else sc.cookie_max_age_s,
            httponly=True,
            samesite="Lax",
            path="/",
        )
        return response

    def page(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        """A protected HTML page: signed-out (or over its view budget) goes to sign-in."""

        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            session = g.session
            if session is None or not site.state.count_view(session, sc.expire_after_views):
                return to_sign_in()
            return view(*args, **kwargs)

        return wrapper

    @app.before_request
    def _load_session() -> None:
        g.session = current_session()

    @app.after_request
    def _finish(response: Response) -> Response:
        if response.mimetype == "text/html" and response.status_code == 200 and sc.page_latency_s:
            time.sleep(sc.page_latency_s)
        if request.path not in _UNLOGGED:
            session: SessionToken | None = g.get("session")
            site.state.record(
                RequestRecord(
                    method=request.method,
                    host=request.host,
                    path=request.path,
                    query=request.query_string.decode("latin-1"),
                    status=response.status_code,
                    session=session_hash(session.sid) if session else None,
                    at=time.time(),
                )
            )
        return response

    # --- sign-in ----------------------------------------------------------------------------------

    @app.get("/")
    def root() -> ResponseReturnValue:
        return redirect(_HOME)

    @app.get("/sessions/new")
    def sessions_new() -> ResponseReturnValue:
        return_to = _local_path(request.args.get("return_to"))
        if g.session is not None:
            return redirect(return_to)
        if request.args.get("sso") != "done":
            back = f"{request.host_url}sessions/new?{urlencode({'return_to': return_to, 'sso': 'done'})}"
            host = f"{sc.sso_host}:{_port()}" if sc.sso_host and _port() else (sc.sso_host or request.host)
            return redirect(f"{request.scheme}://{host}/sso/authorize?{urlencode({'redirect_uri': back})}")
        return pages.sign_in(return_to)

    @app.get("/sso/authorize")
    def sso_authorize() -> ResponseReturnValue:
        back = request.args.get("redirect_uri", "")
        parts = urlsplit(back)
        allowed = {"127.0.0.1", "localhost", sc.sso_host, request.host.rpartition(":")[0] or request.host}
        if (
            parts.scheme not in ("http", "https")
            or parts.hostname not in allowed
            or str(parts.port or "") != _port()
        ):
            return Response("invalid redirect_uri", status=400, mimetype="text/plain")
        return redirect(back)

    @app.post("/sessions")
    def sessions_create() -> ResponseReturnValue:
        email = request.form.get("user[email]", "").strip()
        password = request.form.get("user[password]", "")
        return_to = _local_path(request.form.get("return_to"))
        if "@" not in email or not password:
            return pages.sign_in(return_to, error="Invalid email or password.")
        return signed_in_response(return_to)

    # --- pages ------------------------------------------------------------------------------------

    @app.get(_HOME)
    @page
    def user_home() -> ResponseReturnValue:
        return pages.home(sum(1 for po in sc.pos if po.kind == "normal"))

    @app.get("/order_headers")
    @page
    def order_index() -> ResponseReturnValue:
        return pages.orders([po for po in sc.pos if po.kind == "normal"])

    @app.get("/order_headers/<number>")
    @page
    def order_header(number: str) -> ResponseReturnValue:
        po = sc.po(number)
        if po is None:
            if sc.unknown_po == "redirect_home":
                return redirect(_HOME)
            status = 404 if sc.unknown_po == "http_404" else 200
            return pages.not_found(language=sc.language), status
        if po.throttle_first and site.state.page_hit(f"order:{number}") < po.throttle_first:
            headers = {"Retry-After": po.retry_after} if po.retry_after is not None else {}
            return Response("Too many requests", status=429, mimetype="text/html", headers=headers)
        if po.kind == "redirect_home":
            return redirect(_HOME)
        if po.kind in ("not_found", "http_404"):
            return pages.not_found(language=po.language), 404 if po.kind == "http_404" else 200
        if po.kind in ("forbidden", "http_403"):
            return pages.forbidden(po.language), 403 if po.kind == "http_403" else 200
        return pages.order(po, site.catalog.for_order(number), request.host_url.rstrip("/"))

    @app.get("/requisition_headers/<number>")
    @page
    def requisition_header(number: str) -> ResponseReturnValue:
        po = next((p for p in sc.pos if any(r.number == number for r in p.requisitions)), None)
        if po is None:
            return pages.not_found()
        if any(r.number == number and r.redirect_home for r in po.requisitions):
            return redirect(_HOME)
        files = site.catalog.for_requisition(number)
        return pages.requisition(number, po, files, request.host_url.rstrip("/"))

    @app.get("/attachments/<int:attachment_id>")
    @page
    def attachment_show(attachment_id: int) -> ResponseReturnValue:
        served = site.catalog.get(attachment_id)
        return pages.not_found() if served is None else pages.attachment_show(served)

    @app.get("/help/manual")
    def help_manual() -> ResponseReturnValue:
        return pages.text(
            "Help", "Coupa user manual", "Purchase orders list their attachments at the bottom."
        )

    @app.get("/comments/<number>")
    @page
    def comments(number: str) -> ResponseReturnValue:
        return pages.text("Comments", f"Comments on #{number}", "No new comments.")

    # --- files ------------------------------------------------------------------------------------

    def serve_file(attachment_id: int) -> ResponseReturnValue:
        if g.session is None:
            return to_sign_in()
        served = site.catalog.get(attachment_id)
        if served is None:
            return Response("Not found", status=404, mimetype="text/plain")
        if served.attachment.expire_session:
            site.expire_all_sessions()
            return to_sign_in()
        if site.state.file_hit(attachment_id) < served.attachment.fail_first:
            return Response(
                "Service temporarily unavailable",
                status=served.attachment.fail_status,
                mimetype="text/plain",
                headers={"Retry-After": "1"},
            )
        if served.attachment.redirect:
            signed = f"/storage/signed/{site.signer.storage_token(attachment_id)}"
            if sc.storage_host:
                port = f":{_port()}" if _port() else ""
                signed = f"{request.scheme}://{sc.storage_host}{port}{signed}"
            return redirect(signed)
        return file_response(served)

    def file_response(served: ServedFile) -> Response:
        headers = {
            "Content-Disposition": content_disposition(served.name),
            "Content-Length": str(served.size),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        }
        delay = served.attachment.delay_s
        if not delay or not served.content:
            return Response(served.content, mimetype=content_type(served.name), headers=headers)
        return Response(_trickle(served.content, delay), mimetype=content_type(served.name), headers=headers)

    @app.get("/attachment/attachment_file/type/<int:attachment_id>/<path:name>")
    @app.get("/attachment/attachment_file/file/<int:attachment_id>/<path:name>")
    def attachment_file(attachment_id: int, name: str) -> ResponseReturnValue:
        return serve_file(attachment_id)

    @app.get("/attachments/<int:attachment_id>/download")
    def attachment_download(attachment_id: int) -> ResponseReturnValue:
        return serve_file(attachment_id)

    @app.get("/storage/signed/<token>")
    def storage(token: str) -> ResponseReturnValue:
        attachment_id = site.signer.read_storage_token(token)
        served = site.catalog.get(attachment_id) if attachment_id is not None else None
        if served is None:
            return Response(
                "<Error><Code>AccessDenied</Code></Error>", status=403, mimetype="application/xml"
            )
        return file_response(served)

    # --- for tests and the demo -------------------------------------------------------------------

    @app.get("/sandbox/autologin")
    def autologin() -> ResponseReturnValue:
        return signed_in_response(_local_path(request.args.get("next")))

    @app.post("/sandbox/expire")
    def expire() -> ResponseReturnValue:
        site.expire_all_sessions()
        return jsonify(expired=True)

    @app.get("/sandbox/requests")
    def requests_log() -> ResponseReturnValue:
        return jsonify([r.to_dict() for r in site.requests()])

    @app.get("/sandbox/files")
    def files() -> ResponseReturnValue:
        return jsonify([f.to_dict() for f in site.files()])

    @app.get("/sandbox/scenario")
    def scenario_json() -> ResponseReturnValue:
        return Response(sc.to_json(), mimetype="application/json")

    return app


def _trickle(content: bytes, delay_s: float) -> Iterator[bytes]:
    """The bytes in chunks spread over `delay_s`; the first chunk (and so the headers) goes out at once."""
    step = max(1, -(-len(content) // _SLOW_CHUNKS))
    pause = delay_s / max(1, -(-len(content) // step) - 1)
    for i, start in enumerate(range(0, len(content), step)):
        if i:
            time.sleep(pause)
        yield content[start : start + step]
