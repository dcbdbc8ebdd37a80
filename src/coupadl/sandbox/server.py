"""`SandboxServer`: the sandbox app on 127.0.0.1, a free port, werkzeug serving in a background thread."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from coupadl.sandbox.app import create_app, site_of
from coupadl.sandbox.catalog import ServedFile
from coupadl.sandbox.scenario import Scenario
from coupadl.sandbox.site import Site
from coupadl.sandbox.state import RequestRecord
from coupadl.sandbox.tokens import DEFAULT_SECRET

__all__ = ["SandboxServer"]


class _QuietHandler(WSGIRequestHandler):
    """No per-request lines on stderr: the site keeps its own request log."""

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)


class SandboxServer:
    """A running sandbox site; use as a context manager or call `start()` / `stop()`.

    Args:
        scenario: What to serve (`Scenario.small()` when None).
        host: Address to bind; keep the loopback address.
        port: Port to bind; 0 picks a free one.
        secret: Session signing key; servers sharing it accept each other's sessions.

    Example:
        >>> with SandboxServer(Scenario.small()) as server:  # doctest: +SKIP
        ...     driver.get(server.url("/order_headers/15262984"))
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        secret: bytes = DEFAULT_SECRET,
    ) -> None:
        self.app = create_app(scenario, secret=secret)
        self.site: Site = site_of(self.app)
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def scenario(self) -> Scenario:
        """The scenario being served."""
        return self.site.scenario

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self. Starting twice is an error."""
        if self._server is not None:
            raise RuntimeError("sandbox server already started")
        server = make_server(self._host, self._port, self.app, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="coupadl-sandbox", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving, join the thread and close the socket (safe to call twice)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        if thread is not None:
            thread.join(timeout=10)
        server.server_close()
        self._server = self._thread = None

    def wait(self) -> None:
        """Block until the server stops; Ctrl+C in the calling thread interrupts the wait."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(0.5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- addresses ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("sandbox server is not running")
        return int(self._server.port)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        return f"http://{self._host}:{self.port}"

    @property
    def sso_base_url(self) -> str:
        """Where the sign-in hop happens: the `sso_host` name of this same server (or `base_url`)."""
        host = self.scenario.sso_host
        return f"http://{host}:{self.port}" if host else self.base_url

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def po_url(self, number: str) -> str:
        """URL of a PO page."""
        return self.url(f"/order_headers/{number}")

    # --- introspection ---------------------------------------------------------------------------------

    def requests(self) -> list[RequestRecord]:
        """The request log, oldest first."""
        return self.site.requests()

    def files(self) -> list[ServedFile]:
        """Every file the site serves (PO, attachment id, name, size, SHA-256, bytes)."""
        return self.site.files()

    def expire_all_sessions(self) -> None:
        """Sign every existing session out of this server (other servers keep accepting them)."""
        self.site.expire_all_sessions()
