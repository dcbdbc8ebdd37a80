"""The batch package's public face is exactly what callers use."""

from __future__ import annotations

import coupadl.batch as batch


def test_exported_names() -> None:
    assert sorted(batch.__all__) == sorted(
        [
            "InputKind",
            "OutputInUseError",
            "POList",
            "POOutcome",
            "POProgress",
            "PORow",
            "ProgressCorruptError",
            "ProgressStore",
            "RESULT_COLUMNS",
            "RunInfo",
            "SavedFile",
            "read_po_list",
            "tally",
            "write_results",
            "write_run_summary",
        ]
    )
    for name in batch.__all__:
        assert getattr(batch, name) is not None
