"""Structured logs name the window and the PO on every line, and never carry a secret."""

import json
from pathlib import Path

from coupadl.log import bind, close_logging, configure_logging, get_logger, redact


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_line_names_the_window_and_the_po_while_one_is_processed(tmp_path: Path) -> None:
    log_file = tmp_path / "window-B.jsonl"
    configure_logging(log_file, worker="B")
    try:
        log = get_logger("test")
        log.info("window ready")
        bind(po="PO15262984")
        log.info("attachment.saved", file="quote.pdf")
        bind(po=None)
        log.info("idle")
    finally:
        close_logging()
    ready, saved, idle = _lines(log_file)
    assert ready["worker"] == saved["worker"] == idle["worker"] == "B"
    assert saved["po"] == "PO15262984"
    assert "po" not in ready and "po" not in idle


def test_cookie_and_token_values_never_reach_the_file(tmp_path: Path) -> None:
    log_file = tmp_path / "main.jsonl"
    configure_logging(log_file, worker="main")
    try:
        log = get_logger("test")
        log.info("request", cookie="s3cr3t-cookie", session_token="t0ken-value")
        log.warning("redirected", url="https://x.example/cb?token=abc123&next=/home", detail="Cookie: zz9")
    finally:
        close_logging()
    text = log_file.read_text(encoding="utf-8")
    for secret in ("s3cr3t-cookie", "t0ken-value", "abc123", "zz9"):
        assert secret not in text
    assert "next=/home" in text  # the rest of the line is kept


def test_redact_keeps_ordinary_text() -> None:
    assert redact("opened /order_headers/15262984") == "opened /order_headers/15262984"
    assert redact("password=hunter2 rest") == "password=*** rest"
