"""The batch around the browsers: the PO list read in, durable progress, and the results written out.

```
read_po_list(path) ──► POList ──► ProgressStore (register / todo / mark_started / record / add_file)
                                      │
                                      ▼
                    write_results(out, po_list, store.all())   write_run_summary(out, ...)
```
"""

from coupadl.batch.input import InputKind, POList, PORow, read_po_list
from coupadl.batch.progress import (
    OutputInUseError,
    POOutcome,
    POProgress,
    ProgressCorruptError,
    ProgressStore,
    RunInfo,
    SavedFile,
)
from coupadl.batch.results import RESULT_COLUMNS, tally, write_results, write_run_summary

__all__ = [
    "RESULT_COLUMNS",
    "InputKind",
    "OutputInUseError",
    "POList",
    "POOutcome",
    "POProgress",
    "PORow",
    "ProgressCorruptError",
    "ProgressStore",
    "RunInfo",
    "SavedFile",
    "read_po_list",
    "tally",
    "write_results",
    "write_run_summary",
]
