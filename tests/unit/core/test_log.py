"""Structured logs name the window and the PO on every line, and never carry a secret."""

import json
from pathlib import Path

import pytest

from coupadl.log import bind, close_logging, configure_logging, get_logger, log_path, redact


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


def test_echo_shows_short_lines_on_the_terminal_and_keeps_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "main.jsonl"
    configure_logging(log_file, worker="A", echo=True)
    try:
        bind(po="PO15262984")
        get_logger("test").info("attachment.saved", file="quote.pdf", cookie="secret-value")
    finally:
        close_logging()
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("info [A PO15262984] attachment.saved file=quote.pdf cookie=***"), line
    assert "secret-value" not in line
    assert _lines(log_file)[0]["event"] == "attachment.saved"


def test_a_log_file_that_cannot_be_written_drops_lines_instead_of_raising(tmp_path: Path) -> None:
    """A full disk must not turn every log call into an exception (the run stops for the disk, cleanly)."""
    log_file = tmp_path / "window-A.jsonl"
    configure_logging(log_file, worker="A")
    try:
        assert log_path() == log_file
        with open_failing(log_file):
            get_logger("test").info("on a full disk")  # no exception
    finally:
        close_logging()
    assert log_path() is None


class open_failing:  # noqa: N801 - a context manager read like a phrase
    """Make the open log file's writes fail as they do on a full disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        import coupadl.log as log_module

        stream = log_module._log_file
        assert stream is not None
        self.stream = stream
        self.real_write = stream.write

        def full(_text: str) -> int:
            raise OSError(28, "No space left on device")

        stream.write = full  # type: ignore[method-assign]

    def __exit__(self, *_exc: object) -> None:
        self.stream.write = self.real_write  # type: ignore[method-assign]
