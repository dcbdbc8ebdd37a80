"""Golden files: a run's outputs with only what varies from run to run replaced by placeholders.

What is normalised, and nothing else (statuses, names, sizes, SHA-256, evidence texts, counts and column
order stay exact):

- the run's folders: the demo folder becomes `<root>`, the clones' temp folder `<clones>/<run>`;
- the sandbox's port: `http://127.0.0.1:<port>`;
- ISO 8601 timestamps (`LAST_PROCESSED`, `started_at`, ...): `<timestamp>`;
- durations (`duration_s`): `<duration>`;
- which window processed which PO (`WORKER`, a worker's `processed`): `<worker>` / `<processed>`; the
  golden test checks these separately (every letter is a window of the run, the counts add up).

Set `COUPADL_REGEN_GOLDEN=1` to rewrite the golden files from the current run instead of comparing (then
review the diff: a change there is a change of the outside contract).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REGEN_ENV = "COUPADL_REGEN_GOLDEN"

TIMESTAMP = "<timestamp>"
DURATION = "<duration>"
WORKER = "<worker>"
PROCESSED = "<processed>"

_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_LOOPBACK_PORT = re.compile(r"(https?://(?:127\.0\.0\.1|localhost)):\d+")
_DURATION_KEYS = frozenset({"duration_s"})


def regenerating() -> bool:
    """True when the golden files are to be rewritten (`COUPADL_REGEN_GOLDEN=1`)."""
    return os.environ.get(REGEN_ENV, "") not in ("", "0")


class Normaliser:
    """Replaces the run-specific parts of strings.

    Args:
        paths: (absolute path, placeholder) pairs; longer paths are replaced first.
    """

    def __init__(self, paths: Iterable[tuple[str, str]]) -> None:
        self._paths = sorted(paths, key=lambda pair: len(pair[0]), reverse=True)

    def text(self, value: str) -> str:
        """`value` with paths, ports and a whole-value timestamp replaced."""
        if _ISO_TIMESTAMP.match(value):
            return TIMESTAMP
        for path, placeholder in self._paths:
            value = value.replace(path, placeholder)
        return _LOOPBACK_PORT.sub(r"\1:<port>", value)

    def json(self, value: Any, key: str | None = None) -> Any:
        """A JSON value with every string normalised and durations replaced."""
        if isinstance(value, dict):
            return {k: self.json(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, key) for v in value]
        if key in _DURATION_KEYS and isinstance(value, int | float):
            return DURATION
        if isinstance(value, str):
            return self.text(value)
        return value

    def csv_rows(self, rows: list[list[str]], header: list[str]) -> list[list[str]]:
        """Rows with every cell normalised and `WORKER` replaced (empty cells stay empty)."""
        worker = header.index("WORKER") if "WORKER" in header else -1
        out = []
        for row in rows:
            cells = [self.text(cell) for cell in row]
            if 0 <= worker < len(cells) and cells[worker]:
                cells[worker] = WORKER
            out.append(cells)
        return out


def csv_text(rows: list[list[str]]) -> str:
    """Rows as CSV text with `\\n` line ends (the golden form; line ends and BOM are checked apart)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def json_text(value: Any) -> str:
    """The golden form of a JSON value: indented, keys in the order written, non-ASCII kept."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def file_manifest(root: Path, skip: Iterable[str]) -> list[dict[str, Any]]:
    """Every file under `root` (sorted relative paths) with its size and SHA-256, except the `skip` names
    and anything under a top-level folder in `skip`."""
    skipped = set(skip)
    entries = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in skipped or not path.is_file():
            continue
        with path.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        entries.append({"path": relative.as_posix(), "size": path.stat().st_size, "sha256": digest})
    return entries


def check_golden(golden: Path, actual: str) -> None:
    """Assert that `actual` equals the golden file (or rewrite the file when regenerating)."""
    if regenerating():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8", newline="\n")
        return
    assert golden.is_file(), f"no golden file {golden}: run once with {REGEN_ENV}=1 and review it"
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{golden.name} differs from its golden file {golden} "
        f"(if the change is meant, rerun with {REGEN_ENV}=1 and review the diff)"
    )
