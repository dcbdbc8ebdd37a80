"""Stateless, HMAC-signed tokens: the session cookie and the signed storage URLs.

Session tokens carry everything needed to check them, so a browser profile signed in against one sandbox
instance is signed in on every other instance that shares the secret (tests sign one profile in once and
use it against many servers on other ports). Per-instance revocation lives in `SiteState`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

__all__ = ["DEFAULT_SECRET", "SessionToken", "TokenSigner", "session_hash"]

# Not a secret: every sandbox instance must accept every other instance's sessions by default.
DEFAULT_SECRET = b"coupadl-sandbox-shared-signing-key"


@dataclass(frozen=True)
class SessionToken:
    """A verified session: its random id and when it was issued (Unix ms)."""

    sid: str
    issued_ms: int


def session_hash(sid: str) -> str:
    """Short, non-reversible form of a session id for logs."""
    return hashlib.sha256(sid.encode()).hexdigest()[:12]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Signs and checks tokens with one secret.

    Args:
        secret: HMAC key; instances with the same key accept each other's tokens.
    """

    def __init__(self, secret: bytes = DEFAULT_SECRET) -> None:
        self._secret = secret

    def _sign(self, purpose: str, payload: bytes) -> str:
        mac = hmac.new(self._secret, purpose.encode() + b"\x00" + payload, hashlib.sha256).digest()
        return _b64(mac)

    def _seal(self, purpose: str, data: dict[str, object]) -> str:
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{self._sign(purpose, payload)}"

    def _open(self, purpose: str, token: str) -> dict[str, object] | None:
        body, _, mac = token.partition(".")
        try:
            payload = _unb64(body)
        except (ValueError, TypeError):
            return None
        if not mac or not hmac.compare_digest(mac, self._sign(purpose, payload)):
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    # --- sessions ---------------------------------------------------------------------------------

    def new_session(self, now_ms: int | None = None) -> str:
        """A fresh session cookie value."""
        issued = int(time.time() * 1000) if now_ms is None else now_ms
        return self._seal("session", {"sid": secrets.token_hex(16), "iat": issued})

    def read_session(
        self, token: str | None, max_age_s: float, now_ms: int | None = None
    ) -> SessionToken | None:
        """The session in `token` if it is genuine and younger than `max_age_s`, else None."""
        if not token:
            return None
        data = self._open("session", token)
        if data is None:
            return None
        sid, issued = data.get("sid"), data.get("iat")
        if not isinstance(sid, str) or not isinstance(issued, int):
            return None
        now = int(time.time() * 1000) if now_ms is None else now_ms
        if now - issued > max_age_s * 1000:
            return None
        return SessionToken(sid, issued)

    # --- signed storage URLs ----------------------------------------------------------------------

    def storage_token(self, attachment_id: int, ttl_s: float = 300.0) -> str:
        """Token of a short-lived storage URL for one attachment."""
        return self._seal("storage", {"id": attachment_id, "exp": int(time.time() + ttl_s)})

    def read_storage_token(self, token: str) -> int | None:
        """The attachment id of a genuine, unexpired storage token, else None."""
        data = self._open("storage", token)
        if data is None:
            return None
        attachment_id, expires = data.get("id"), data.get("exp")
        if not isinstance(attachment_id, int) or not isinstance(expires, int) or expires < time.time():
            return None
        return attachment_id
