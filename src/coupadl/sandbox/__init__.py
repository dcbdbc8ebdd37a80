"""A local Coupa-like site for tests and the demo: sessions, PO pages, attachments in Coupa's forms.

State the site as data (`Scenario`), serve it (`SandboxServer`), sign a browser profile in
(`sign_in_profile`), then read what happened (`SandboxServer.requests()`, `SandboxServer.files()`).
`python -m coupadl.sandbox` serves one from the command line.
"""

from __future__ import annotations

from coupadl.sandbox.app import SESSION_COOKIE, create_app, site_of
from coupadl.sandbox.catalog import ServedFile
from coupadl.sandbox.scenario import (
    ATTACHMENT_FORMS,
    Attachment,
    AttachmentForm,
    PoKind,
    PoLine,
    PurchaseOrder,
    Requisition,
    Scenario,
)
from coupadl.sandbox.server import SandboxServer
from coupadl.sandbox.signin import cookie_db_path, has_session_cookie, sign_in_profile
from coupadl.sandbox.site import Site
from coupadl.sandbox.state import RequestRecord

__all__ = [
    "ATTACHMENT_FORMS",
    "SESSION_COOKIE",
    "Attachment",
    "AttachmentForm",
    "PoKind",
    "PoLine",
    "PurchaseOrder",
    "RequestRecord",
    "Requisition",
    "SandboxServer",
    "Scenario",
    "ServedFile",
    "Site",
    "cookie_db_path",
    "create_app",
    "has_session_cookie",
    "sign_in_profile",
    "site_of",
]
