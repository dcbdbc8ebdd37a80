"""A small HTTP client for a Selenium Grid 4: is it there, which nodes and free slots, which node runs a
session, and deleting a session (a run's own, or one a killed run left behind).

It reads the Grid's `/status` (the router's view of every node and slot) and uses WebDriver's own
`DELETE /session/{id}`; no Selenium import, so it can run before any browser is started.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from coupadl.errors import GridNoFreeSlotError, GridUnreachableError
from coupadl.grid.address import is_loopback_host
from coupadl.lean_imports import without_modules

with without_modules("httpx._main"):  # httpx's command-line client: click, rich, pygments
    import httpx

__all__ = ["GridClient", "GridNodeInfo", "GridSlot", "GridStatus"]


@dataclass(frozen=True)
class GridSlot:
    """One slot of a node: the browser it offers and the session in it (None: free)."""

    browser_name: str
    session_id: str | None


@dataclass(frozen=True)
class GridNodeInfo:
    """One node as the Grid sees it."""

    node_id: str
    uri: str
    availability: str  # UP, DRAINING, DOWN
    max_sessions: int
    slots: tuple[GridSlot, ...]

    @property
    def is_up(self) -> bool:
        """The Grid sends new sessions to this node."""
        return self.availability.upper() == "UP"

    def free_slots(self, browser_name: str) -> int:
        """Sessions of `browser_name` this node can start now (its slots, capped by its `maxSessions`)."""
        if not self.is_up:
            return 0
        busy = sum(1 for s in self.slots if s.session_id is not None)
        free = sum(1 for s in self.slots if s.session_id is None and s.browser_name == browser_name)
        return max(0, min(free, self.max_sessions - busy))


@dataclass(frozen=True)
class GridStatus:
    """The Grid's `/status`: whether it takes sessions, and its nodes."""

    ready: bool
    message: str
    nodes: tuple[GridNodeInfo, ...]

    def free_slots(self, browser_name: str = "chrome") -> int:
        """Sessions of `browser_name` the whole Grid can start now."""
        return sum(node.free_slots(browser_name) for node in self.nodes)

    def session_ids(self) -> set[str]:
        """Every session running on the Grid."""
        return {s.session_id for n in self.nodes for s in n.slots if s.session_id is not None}

    def node_of(self, session_id: str) -> GridNodeInfo | None:
        """The node running `session_id` (None: the Grid does not know it)."""
        for node in self.nodes:
            if any(s.session_id == session_id for s in node.slots):
                return node
        return None

    @classmethod
    def parse(cls, body: Any) -> GridStatus:
        """Read a `/status` answer. Raises `ValueError` if it is not a Grid 4 status."""
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, dict) or not isinstance(value.get("nodes"), list):
            raise ValueError("no `value.nodes` in the answer (a standalone driver, or not a Selenium Grid 4)")
        nodes = []
        for raw in value["nodes"]:
            slots = []
            for slot in raw.get("slots") or []:
                session = slot.get("session")
                stereotype = slot.get("stereotype") or {}
                slots.append(
                    GridSlot(
                        browser_name=str(stereotype.get("browserName") or ""),
                        session_id=str(session["sessionId"]) if isinstance(session, dict) else None,
                    )
                )
            nodes.append(
                GridNodeInfo(
                    node_id=str(raw.get("id") or ""),
                    uri=str(raw.get("uri") or ""),
                    availability=str(raw.get("availability") or ""),
                    max_sessions=int(raw.get("maxSessions") or len(slots)),
                    slots=tuple(slots),
                )
            )
        return cls(bool(value.get("ready")), str(value.get("message") or ""), tuple(nodes))


class GridClient:
    """HTTP client for one Grid (close it, or use it as a context manager).

    Args:
        url: The Grid's address as `check_grid_url` returned it.
        timeout: Seconds for each request.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        # A system proxy must not carry requests to a Grid on this machine (like the local drivers' commands).
        local = is_loopback_host(urlsplit(self.url).hostname or "")
        with without_modules("trio"):  # httpcore, imported by the first client, would load trio (async only)
            self._http = httpx.Client(timeout=timeout, trust_env=not local)

    def __enter__(self) -> GridClient:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def status(self) -> GridStatus:
        """The Grid's status.

        Raises:
            GridUnreachableError: No answer, an HTTP error, or not a Selenium Grid 4 status (one line).
        """
        try:
            response = self._http.get(f"{self.url}/status")
            response.raise_for_status()
            return GridStatus.parse(response.json())
        except httpx.HTTPStatusError as exc:
            raise GridUnreachableError(
                f"Selenium Grid {self.url} answered HTTP {exc.response.status_code} to /status"
            ) from exc
        except httpx.HTTPError as exc:
            raise GridUnreachableError(
                f"Selenium Grid {self.url} is unreachable ({type(exc).__name__}: {exc or 'no answer'})"
            ) from exc
        except ValueError as exc:
            raise GridUnreachableError(f"{self.url} is not a Selenium Grid 4: {exc}") from exc

    def free_slots(self, browser_name: str = "chrome") -> int:
        """Sessions of `browser_name` the Grid can start now. Raises `GridUnreachableError`."""
        return self.status().free_slots(browser_name)

    def claim_windows(self, wanted: int, browser_name: str = "chrome") -> int:
        """How many windows a run asking for `wanted` gets: `min(wanted, free slots)`.

        Raises:
            GridUnreachableError: The Grid does not answer.
            GridNoFreeSlotError: The Grid is not ready or has no free slot for `browser_name` (one line).
        """
        status = self.status()
        free = status.free_slots(browser_name)
        if not status.ready or free < 1:
            up = sum(1 for n in status.nodes if n.is_up)
            why = "all slots busy" if status.ready else (status.message or "not ready")
            raise GridNoFreeSlotError(
                f"Selenium Grid {self.url} has no free {browser_name} slot ({up} node(s) up, {why})"
            )
        return min(wanted, free)

    def session_node(self, session_id: str) -> str | None:
        """URI of the node running `session_id`, None if the Grid does not know the session."""
        node = self.status().node_of(session_id)
        return node.uri if node is not None else None

    def delete_session(self, session_id: str) -> bool:
        """End `session_id` on the Grid (WebDriver `DELETE /session/{id}`).

        Returns:
            True if the Grid ended it, False if it did not know it (already gone).

        Raises:
            GridUnreachableError: The Grid does not answer.
        """
        try:
            response = self._http.delete(f"{self.url}/session/{session_id}")
        except httpx.HTTPError as exc:
            raise GridUnreachableError(
                f"Selenium Grid {self.url} is unreachable ({type(exc).__name__}: {exc or 'no answer'})"
            ) from exc
        return response.status_code == httpx.codes.OK
