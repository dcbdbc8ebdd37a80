"""docs/design.md's lifecycle tables are the code's: the block between the `lifecycle-tables` markers is
generated from `POOL_LIFECYCLE`, `WORKER_LIFECYCLE`, `PROFILE_LIFECYCLE`, `MANAGER_LIFECYCLE`,
`SESSION_LIFECYCLE` and `TAB_LIFECYCLE`, so the two cannot drift.

After changing a table: `COUPADL_REGEN_DESIGN=1 pytest tests/unit/docs/test_design_lifecycles.py` rewrites the
block; review the diff.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import coupadl
from coupadl.browser.states import SESSION_LIFECYCLE, TAB_LIFECYCLE
from coupadl.lifecycle import Lifecycle
from coupadl.pool.states import POOL_LIFECYCLE, WORKER_LIFECYCLE
from coupadl.profiles.models import MANAGER_LIFECYCLE, PROFILE_LIFECYCLE

DESIGN = Path(__file__).resolve().parents[3] / "docs" / "design.md"
BEGIN = "<!-- lifecycle-tables: generated from the code by tests/unit/docs/test_design_lifecycles.py -->"
END = "<!-- /lifecycle-tables -->"

# (its name, the table, the module that defines it, whose state it is)
TABLES: list[tuple[str, Lifecycle[Any], str, str]] = [
    ("POOL_LIFECYCLE", POOL_LIFECYCLE, "pool/states.py", "`PersistentWorkerPool`"),
    ("WORKER_LIFECYCLE", WORKER_LIFECYCLE, "pool/states.py", "a worker (the supervisor's `WorkerHandle`)"),
    ("MANAGER_LIFECYCLE", MANAGER_LIFECYCLE, "profiles/models.py", "`ProfileManager`"),
    ("PROFILE_LIFECYCLE", PROFILE_LIFECYCLE, "profiles/models.py", "`WorkerProfile`"),
    ("SESSION_LIFECYCLE", SESSION_LIFECYCLE, "browser/states.py", "`BrowserSession`"),
    ("TAB_LIFECYCLE", TAB_LIFECYCLE, "browser/states.py", "`Tab`"),
]


def render() -> str:
    """The generated block (markers included)."""
    lines = [BEGIN, ""]
    for name, table, module, owner in TABLES:
        states = table.states
        lines += [f"`{name}` (`{module}`: `{type(states[0]).__name__}` of {owner}):", ""]
        lines += ["| from | may go to |", "|---|---|"]
        for state in states:
            nexts = [s for s in states if s in table.successors(state)]
            to = ", ".join(f"`{s.name}`" for s in nexts) or "— (final)"
            lines.append(f"| `{state.name}` | {to} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _current_block(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def test_design_md_lifecycle_tables_equal_the_code() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "docs/design.md lost its lifecycle-tables markers"
    wanted = render()
    if os.environ.get("COUPADL_REGEN_DESIGN") == "1":
        DESIGN.write_text(text.replace(_current_block(text), wanted), encoding="utf-8")
        text = DESIGN.read_text(encoding="utf-8")
    assert _current_block(text) == wanted, (
        "docs/design.md's lifecycle tables differ from the code: "
        "COUPADL_REGEN_DESIGN=1 pytest tests/unit/docs/test_design_lifecycles.py, then review the diff"
    )


def test_every_lifecycle_table_of_the_code_is_in_the_list() -> None:
    src = Path(coupadl.__file__).parent
    defined = {
        (line.split(":")[0].strip(), str(path.relative_to(src)))
        for path in src.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if "] = Lifecycle(" in line
    }
    assert defined == {(name, module) for name, _table, module, _owner in TABLES}


def test_a_changed_table_no_longer_matches(monkeypatch: Any) -> None:
    before = render()
    changed = Lifecycle(
        "pool", {s: POOL_LIFECYCLE.successors(s) - {s.SHUTTING_DOWN} for s in POOL_LIFECYCLE.states}
    )
    monkeypatch.setattr(
        sys.modules[__name__],
        "TABLES",
        [("POOL_LIFECYCLE", changed, "pool/states.py", "`PersistentWorkerPool`"), *TABLES[1:]],
    )
    assert render() != before
    assert "| `READY` | `PROCESSING` |" in render()
