"""Stateless HMAC tokens and Content-Disposition."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from coupadl.sandbox.disposition import ascii_fallback, content_disposition, content_type
from coupadl.sandbox.tokens import TokenSigner, session_hash


def test_a_session_is_accepted_by_any_signer_with_the_same_secret() -> None:
    token = TokenSigner().new_session(now_ms=1_000)
    session = TokenSigner().read_session(token, max_age_s=60, now_ms=2_000)
    assert session is not None and session.issued_ms == 1_000 and len(session.sid) == 32


def test_forged_tampered_or_old_sessions_are_refused() -> None:
    signer = TokenSigner(b"k1")
    token = signer.new_session(now_ms=1_000)
    body, _, mac = token.partition(".")
    assert TokenSigner(b"k2").read_session(token, max_age_s=60, now_ms=1_000) is None
    assert signer.read_session(body + "." + mac[::-1], max_age_s=60, now_ms=1_000) is None
    assert signer.read_session(body + "x." + mac, max_age_s=60, now_ms=1_000) is None
    assert signer.read_session("garbage", max_age_s=60) is None
    assert signer.read_session(None, max_age_s=60) is None
    assert signer.read_session(token, max_age_s=60, now_ms=61_001) is None
    assert signer.read_session(token, max_age_s=60, now_ms=61_000) is not None


def test_storage_tokens_name_their_attachment_and_expire() -> None:
    signer = TokenSigner()
    assert signer.read_storage_token(signer.storage_token(42)) == 42
    assert signer.read_storage_token(signer.storage_token(42, ttl_s=-5)) is None
    session = signer.new_session()
    assert signer.read_storage_token(session) is None  # a session cookie is not a storage URL


def test_session_hash_is_short_and_not_the_id() -> None:
    assert len(session_hash("abc")) == 12 and "abc" not in session_hash("abc")


@pytest.mark.parametrize(
    "name",
    ["quote.pdf", "../../etc/passwd.pdf", "a/b\\c.pdf", "Übersicht – 東京.pdf", 'x "y" <z>.docx', "A" * 300],
)
def test_content_disposition_carries_the_exact_name(name: str) -> None:
    header = content_disposition(name)
    assert header.startswith('attachment; filename="')
    fallback = header.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert fallback.isascii() and '"' not in fallback and "\\" not in fallback
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == name


def test_ascii_fallback_strips_accents() -> None:
    assert ascii_fallback("Übersicht é.pdf") == "Ubersicht e.pdf"
    assert ascii_fallback("東京") == "__"


def test_content_type_follows_the_extension() -> None:
    assert content_type("a.pdf") == "application/pdf"
    assert content_type("x/../b.PDF") == "application/pdf"
    assert content_type("CON") == "application/octet-stream"
