"""Purchase orders as the tool sees them: their numbers, their page address and the status of each one.

A PO's lifecycle across runs (`POStatus`):

```
PENDING ──► COMPLETED | NO_ATTACHMENTS | PO_NOT_FOUND     final: never visited again (only --fresh resets)
   │  ▲
   │  └──── FAILED | PARTIAL                               retried by the next run on the same --out
   └──────► FAILED | PARTIAL
INVALID_PO                                                 final from the start: the value is not a PO number
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

__all__ = ["PONumber", "POStatus", "SavedFile", "parse_po_number", "po_url"]

MIN_DIGITS = 6

# [0-9], not \d: \d also matches Arabic-Indic and other Unicode digits, which are no Coupa ids.
_PO_PATTERN = re.compile(rf"(?:(?P<prefix>P[OM]))?(?P<digits>[0-9]{{{MIN_DIGITS},}})", re.IGNORECASE)


class POStatus(StrEnum):
    """What happened to one PO; the values are the `STATUS` column of the results."""

    COMPLETED = "COMPLETED"  # every attachment saved
    PARTIAL = "PARTIAL"  # some attachments saved, some not
    NO_ATTACHMENTS = "NO_ATTACHMENTS"  # the PO exists and has nothing to download
    PO_NOT_FOUND = "PO_NOT_FOUND"  # the site says the PO does not exist or is not visible to this user
    INVALID_PO = "INVALID_PO"  # the input value is not a PO number; never visited
    FAILED = "FAILED"  # every attempt went wrong
    PENDING = "PENDING"  # not reached yet

    @property
    def is_final(self) -> bool:
        """Whether a rerun on the same output folder leaves this PO alone."""
        return self in _FINAL


_FINAL = frozenset({POStatus.COMPLETED, POStatus.NO_ATTACHMENTS, POStatus.PO_NOT_FOUND, POStatus.INVALID_PO})


@dataclass(frozen=True)
class PONumber:
    """A valid PO number.

    Attributes:
        raw: The value as it was in the input, untouched.
        digits: The numeric id Coupa uses in the page address; also the PO's key in the progress store.
        display: The canonical spelling used for folder names, e.g. `PO15262984` or `PM16895339`.
    """

    raw: str
    digits: str
    display: str

    def __str__(self) -> str:
        return self.display


def parse_po_number(value: object) -> PONumber | None:
    """Read a PO number from an input cell.

    Accepted, in any case and with surrounding whitespace ignored: `PO15262984`, `PM16895339` and bare digits
    (`15262984`), always at least six digits. A whole float such as `15262984.0` (how spreadsheets hand over
    numbers) counts as its digits.

    Args:
        value: The cell's value, usually a string.

    Returns:
        The parsed number, or `None` when the value is not a PO number (status `INVALID_PO`).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer() or value < 0:
            return None
        raw = str(int(value))
    else:
        raw = str(value)
    match = _PO_PATTERN.fullmatch(raw.strip())
    if match is None:
        return None
    digits = match["digits"]
    prefix = (match["prefix"] or "PO").upper()
    return PONumber(raw=raw, digits=digits, display=f"{prefix}{digits}")


def po_url(base_url: str, po: PONumber) -> str:
    """The address of the PO's page on the Coupa host.

    Args:
        base_url: The host, e.g. `https://acme.coupahost.com` (a trailing slash is ignored).
        po: The PO.

    Returns:
        `{base_url}/order_headers/{digits}`.
    """
    return f"{base_url.rstrip('/')}/order_headers/{po.digits}"


@dataclass(frozen=True)
class SavedFile:
    """An attachment saved in its PO folder: what the downloader reports and the progress store remembers.

    Attributes:
        key: The attachment's key (absolute file URL).
        name: The file's name in the PO folder.
        size: Length in bytes.
        sha256: Hex SHA-256 of its content.
        path: Its absolute path, known to the downloader that just saved it; None when read back from the
            progress store, which keeps names only.
        saved_at: When it was saved (UTC).
    """

    key: str
    name: str
    size: int
    sha256: str
    path: Path | None = None
    saved_at: datetime = field(
        default_factory=lambda: datetime.now(UTC), compare=False
    )  # not what the file is

    def to_dict(self) -> dict[str, str | int]:
        """The plain form a task result carries: key, name, size, sha256."""
        return {"key": self.key, "name": self.name, "size": self.size, "sha256": self.sha256}
