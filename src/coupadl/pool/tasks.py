"""What the pool carries without looking inside: a task, its outcome, and the handler that does it.

The pool is generic over the task's payload `P`, the handler's options `O` and the handler's result `R`
(`coupadl.coupa.task.POTask`, `JobOptions` and `POResult` for the Coupa job; plain values in the tests). All
three must be picklable: they cross to a spawned worker process and back.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from coupadl.browser.session import Tab

__all__ = ["Task", "TaskHandler", "TaskOutcome", "resolve_handler"]

P = TypeVar("P")
R = TypeVar("R")
P_contra = TypeVar("P_contra", contravariant=True)
O_contra = TypeVar("O_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True)
class Task(Generic[P]):
    """One unit of work: an id unique in the batch, and the payload the handler receives.

    `label` is what the worker's log lines and its task tab call the task (e.g. `PO15262984`); the id when
    empty. `opens` is the address the task's first page opens on, when the caller knows it: a worker given
    the task next starts loading it in a spare tab while it does the task before (the pool never reads it).
    """

    task_id: str
    payload: P
    attempts: int = 0  # attempts already made
    throttled: int = 0  # times it came back throttled (not counted as attempts)
    label: str = ""
    opens: str = ""


@dataclass(frozen=True)
class TaskOutcome(Generic[R]):
    """How a task ended: `result` from the handler, or `error` once nobody can do it."""

    task_id: str
    worker_id: int | None
    attempts: int
    result: R | None = None
    error: str = ""


class TaskHandler(Protocol[P_contra, O_contra, R_co]):
    """Does one task in the window's task tab: `(tab, payload, options, attempt) -> result`.

    `options` are the pool's `handler_options` (the same for every task); `attempt` counts from 1. What the
    supervisor should do about a failure is said by the exception raised (see `coupadl.pool.worker`).
    """

    def __call__(self, tab: Tab, payload: P_contra, options: O_contra, attempt: int, /) -> R_co:
        """Do the task."""
        ...


def resolve_handler(reference: str) -> TaskHandler[object, object, object]:
    """Import the handler named `package.module:function` (a spawned worker gets the name, not the function).

    Which payload and options it takes cannot be checked across the process boundary: the caller that named
    it also builds the tasks (e.g. `coupadl.cli.wiring.COUPA_HANDLER` with `coupadl.coupa.task.POTask`).
    """
    module_name, _, attr = reference.partition(":")
    handler: TaskHandler[object, object, object] = getattr(importlib.import_module(module_name), attr)
    return handler
