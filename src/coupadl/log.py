"""Structured logging: one JSON-lines file per process under the output folder, secrets never written.

Every line carries `worker` (and `po` while a PO is processed) through structlog's context variables, so a
reader can follow one window or one PO through the whole run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, Any

import structlog

__all__ = ["bind", "close_logging", "configure_logging", "get_logger", "redact"]

_log_file: IO[str] | None = None  # this process's log file, closed on reconfigure or exit

_SECRET_KEYS = re.compile(r"cookie|token|password|secret|authorization|session_id|sessionid", re.IGNORECASE)
_SECRET_IN_TEXT = re.compile(r"(?i)((?:cookie|token|password|secret|session)[\w-]*[=:]\s*)([^\s;,&]+)")


def redact(value: str) -> str:
    """Mask values that look like `cookie=...`, `token: ...` inside free text."""
    return _SECRET_IN_TEXT.sub(r"\1***", value)


def _redact_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        value = event_dict[key]
        if _SECRET_KEYS.search(key) and key != "event":
            event_dict[key] = "***"
        elif isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def configure_logging(log_file: Path | None, *, worker: str = "main", level: int = logging.INFO) -> None:
    """Send this process's structured logs to `log_file` as JSON lines (nowhere when None)."""
    global _log_file
    close_logging()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(worker=worker)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        _log_file = log_file.open("a", encoding="utf-8", buffering=1)
        factory: Any = structlog.WriteLoggerFactory(file=_log_file)
    else:
        factory = structlog.ReturnLoggerFactory()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_processor,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )


def close_logging() -> None:
    """Close this process's log file (logging goes nowhere until configured again)."""
    global _log_file
    if _log_file is not None:
        structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
        _log_file.close()
        _log_file = None


def get_logger(name: str = "coupadl") -> Any:
    """A structlog logger; the bound `worker`/`po` context is added to every line."""
    return structlog.get_logger(name)


def bind(**values: Any) -> None:
    """Add `values` (e.g. `po=...`) to every following log line of this process; None removes a key."""
    drop = [k for k, v in values.items() if v is None]
    if drop:
        structlog.contextvars.unbind_contextvars(*drop)
    keep = {k: v for k, v in values.items() if v is not None}
    if keep:
        structlog.contextvars.bind_contextvars(**keep)
