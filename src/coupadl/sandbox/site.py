"""One sandbox site: its scenario, file catalog, token signer and per-instance state, seen from Python."""

from __future__ import annotations

from dataclasses import dataclass, field

from coupadl.sandbox.catalog import Catalog, ServedFile
from coupadl.sandbox.scenario import Scenario
from coupadl.sandbox.state import RequestRecord, SiteState
from coupadl.sandbox.tokens import DEFAULT_SECRET, TokenSigner

__all__ = ["Site"]


@dataclass
class Site:
    """Everything behind the routes of one app instance.

    Attributes:
        scenario: What the site serves.
        secret: HMAC key of session and storage tokens.
    """

    scenario: Scenario
    secret: bytes = DEFAULT_SECRET
    catalog: Catalog = field(init=False)
    signer: TokenSigner = field(init=False)
    state: SiteState = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.scenario)
        self.signer = TokenSigner(self.secret)
        self.state = SiteState()

    def files(self) -> list[ServedFile]:
        """Every file the site serves, with PO, attachment id, name, size and SHA-256."""
        return self.catalog.all()

    def requests(self) -> list[RequestRecord]:
        """The request log, oldest first."""
        return self.state.requests()

    def expire_all_sessions(self) -> None:
        """Sign every existing session out of this instance (other instances are not affected)."""
        self.state.expire_all_sessions()
