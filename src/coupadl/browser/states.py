"""Lifecycles of the browser session and of a task's tab (seed 002): states and allowed transitions
(`coupadl.lifecycle`)."""

from __future__ import annotations

from enum import StrEnum

from coupadl.lifecycle import Lifecycle

__all__ = ["SESSION_LIFECYCLE", "TAB_LIFECYCLE", "SessionState", "TabStatus"]


class SessionState(StrEnum):
    """`BrowserSession` lifecycle: INITIALIZING → AUTHENTICATED → ACTIVE → CLOSING → CLOSED;
    ERROR → RECOVERING → ACTIVE on recovery (seed 002).

    CLOSING may come from any state (a window is quit wherever it is: not verified, failed, at shutdown).
    ERROR and RECOVERING are never entered: a session is not repaired in place. A window that fails
    verification is quit and started again by `VerifiedWindow`'s remediation; a browser lost while a task runs
    ends its worker process, and the pool restarts the worker (CRASHED → RESTARTING) with a new session. The
    states and their transitions stay for the seed's vocabulary.
    """

    INITIALIZING = "initializing"
    AUTHENTICATED = "authenticated"
    ACTIVE = "active"
    CLOSING = "closing"
    CLOSED = "closed"
    ERROR = "error"
    RECOVERING = "recovering"


SESSION_LIFECYCLE: Lifecycle[SessionState] = Lifecycle(
    "session",
    {
        SessionState.INITIALIZING: {SessionState.AUTHENTICATED, SessionState.ERROR, SessionState.CLOSING},
        SessionState.AUTHENTICATED: {SessionState.ACTIVE, SessionState.ERROR, SessionState.CLOSING},
        SessionState.ACTIVE: {SessionState.ERROR, SessionState.CLOSING},
        SessionState.ERROR: {SessionState.RECOVERING, SessionState.CLOSING},
        SessionState.RECOVERING: {
            SessionState.ACTIVE,
            SessionState.AUTHENTICATED,
            SessionState.ERROR,
            SessionState.CLOSING,
        },
        SessionState.CLOSING: {SessionState.CLOSED},
        SessionState.CLOSED: set(),
    },
)


class TabStatus(StrEnum):
    """`Tab` lifecycle: OPENING → LOADING → PROCESSING → COMPLETED → CLOSING → CLOSED; ERROR → FAILED
    (seed 002).

    A `Tab` is one task's use of the window's task tab. Each `get` goes LOADING → PROCESSING (a new document)
    or LOADING → ERROR (the tab may not be read); a later `get` in the same task starts LOADING again. The
    task ends COMPLETED when it returns, FAILED when it raises, from whatever state it was in.
    CLOSING and CLOSED are never entered: the tab itself is kept for the next task, or closed by
    `BrowserSession.replace_task_tab` after its `Tab` ended (COMPLETED or FAILED); they stay for the seed's
    vocabulary.
    """

    OPENING = "opening"
    LOADING = "loading"
    PROCESSING = "processing"
    COMPLETED = "completed"
    CLOSING = "closing"
    CLOSED = "closed"
    ERROR = "error"
    FAILED = "failed"


_T = TabStatus
TAB_LIFECYCLE: Lifecycle[TabStatus] = Lifecycle(
    "tab",
    {
        _T.OPENING: {_T.LOADING, _T.COMPLETED, _T.FAILED},
        _T.LOADING: {_T.PROCESSING, _T.ERROR, _T.FAILED},
        _T.PROCESSING: {_T.LOADING, _T.COMPLETED, _T.FAILED},
        _T.ERROR: {_T.LOADING, _T.COMPLETED, _T.FAILED},
        _T.COMPLETED: {_T.CLOSING},
        _T.CLOSING: {_T.CLOSED},
        _T.CLOSED: set(),
        _T.FAILED: set(),
    },
)
