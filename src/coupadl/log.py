"""Structured logging: one JSON-lines file per process under the output folder, secrets never written.

Every line carries `worker` (and `po` while a PO is processed) through structlog's context variables, so a
reader can follow one window or one PO through the whole run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, Any

from coupadl.lean_imports import without_modules

# structlog's console renderer (never used: lines are JSON in the file and `_terminal_line` on a terminal)
# would import rich.
with without_modules("rich"):
    import structlog

__all__ = ["bind", "close_logging", "configure_logging", "get_logger", "log_path", "redact"]

_log_file: IO[str] | None = None  # this process's log file, closed on reconfigure or exit
_log_path: Path | None = None

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


class _LogSink:
    """Where log lines go: the log file (a full disk drops lines instead of raising into the caller, so a
    log call can never turn a disk fault into a crash) and, with `echo`, the terminal (stderr)."""

    def __init__(self, file: IO[str] | None, *, echo: bool) -> None:
        self._file = file
        self._echo = echo

    def write(self, text: str) -> int:
        if self._file is not None:
            with contextlib.suppress(OSError, ValueError):  # disk full, folder gone, file closed
                self._file.write(text)
        if self._echo:
            try:
                sys.stderr.write(_terminal_line(text))
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        return len(text)

    def flush(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError, ValueError):
                self._file.flush()


def _terminal_line(text: str) -> str:
    """A JSON log line as a short terminal line: `time level [worker po] event key=value ...`."""
    try:
        entry = json.loads(text)
    except ValueError:
        return text
    if not isinstance(entry, dict):
        return text
    head = [
        str(entry.pop("timestamp", ""))[11:19],
        str(entry.pop("level", "")),
        f"[{entry.pop('worker', '')}{' ' + str(entry.pop('po')) if 'po' in entry else ''}]",
        str(entry.pop("event", "")),
    ]
    rest = [f"{key}={value}" for key, value in entry.items()]
    return " ".join([*head, *rest]) + "\n"


def configure_logging(
    log_file: Path | None, *, worker: str = "main", level: int = logging.INFO, echo: bool = False
) -> None:
    """Send this process's structured logs to `log_file` as JSON lines (nowhere when None), and with `echo`
    also to the terminal (stderr) as short lines."""
    global _log_file, _log_path
    close_logging()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(worker=worker)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            _log_file = log_file.open("a", encoding="utf-8", buffering=1)
            _log_path = log_file
        except OSError:  # a full disk or a folder gone: the run notices it and says so; no crash for logs
            _log_file = None
    if _log_file is not None or echo:
        factory: Any = structlog.WriteLoggerFactory(file=_LogSink(_log_file, echo=echo))  # type: ignore[arg-type]
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
    global _log_file, _log_path
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    if _log_file is not None:
        with contextlib.suppress(OSError):
            _log_file.close()
        _log_file = None
    _log_path = None


def log_path() -> Path | None:
    """The file this process logs to now, if any (failures name it)."""
    return _log_path


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
