"""The profile data model of seed 000: enums, configs, `WorkerProfile` and `VerificationResult`.

Lifecycles are enums with their allowed transitions written down next to them (`coupadl.lifecycle`): an
invalid transition raises in tests and is logged in production, never silently accepted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tenacity.wait import wait_base

from coupadl.lifecycle import Lifecycle, StateMachine
from coupadl.profiles.markers import COMPLETE_MARKER
from coupadl.retrying import backoff, delay_before

__all__ = [
    "MANAGER_LIFECYCLE",
    "PROFILE_LIFECYCLE",
    "MethodResult",
    "ProfileManagerState",
    "ProfileState",
    "ProfileStatus",
    "ProfileStatusReport",
    "ProfileType",
    "RetryConfig",
    "VerificationConfig",
    "VerificationMethod",
    "VerificationResult",
    "VerificationStatus",
    "WorkerProfile",
    "window_letter",
]


def _now() -> datetime:
    return datetime.now(UTC)


class ProfileType(StrEnum):
    """Whether a window runs on the operator's base profile or on a temporary copy of it."""

    BASE = "base"  # the configured profile itself; only one window may use it
    CLONE = "clone"  # a temporary copy made from the run's snapshot
    REMOTE = "remote"  # a Selenium Grid session: a fresh profile on a node, signed in with carried cookies


class VerificationMethod(StrEnum):
    """The ways a window proves it runs on the intended, signed-in profile (spec 003 VM-001..003)."""

    CAPABILITY_CHECK = "capability"  # VM-002: driver-reported user-data-dir
    AUTH_CHECK = "authentication"  # VM-001: an authenticated page without a sign-in redirect
    FILE_VERIFICATION = "file"  # VM-003: checksums of key files right after cloning


class VerificationStatus(StrEnum):
    """Outcome of one verification method or of a whole verification."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    PARTIAL = "partial"  # some methods failed
    FAILED = "failed"  # every method failed
    TIMEOUT = "timeout"
    SKIPPED = "skipped"  # method not applicable (file check on the base profile)


class ProfileStatus(StrEnum):
    """Whether the base profile can be used right now."""

    AVAILABLE = "available"
    LOCKED = "locked"
    CORRUPTED = "corrupted"
    MISSING = "missing"
    PERMISSION_DENIED = "permission_denied"


class ProfileManagerState(StrEnum):
    """`ProfileManager` lifecycle: INITIALIZED → ACTIVE → SHUTDOWN (or INITIALIZED → SHUTDOWN: a manager
    shut down before it made its snapshot). Every state is entered."""

    INITIALIZED = "initialized"
    ACTIVE = "active"
    SHUTDOWN = "shutdown"


class ProfileState(StrEnum):
    """`WorkerProfile` lifecycle: CREATING → READY → VERIFIED → IN_USE → CLEANUP → DESTROYED.

    A profile may also go back from VERIFIED/IN_USE to READY when its window is restarted and must be
    verified again, and to CLEANUP from any live state (CREATING included: a copy that failed half-way) when
    its window fails for good or the run shuts down. CLEANUP stays CLEANUP while its folder cannot be
    removed; a later cleanup moves it to DESTROYED. Every state is entered.
    """

    CREATING = "creating"
    READY = "ready"
    VERIFIED = "verified"
    IN_USE = "in_use"
    CLEANUP = "cleanup"
    DESTROYED = "destroyed"


PROFILE_LIFECYCLE: Lifecycle[ProfileState] = Lifecycle(
    "profile",
    {
        ProfileState.CREATING: {ProfileState.READY, ProfileState.CLEANUP},
        ProfileState.READY: {ProfileState.VERIFIED, ProfileState.CLEANUP},
        ProfileState.VERIFIED: {ProfileState.IN_USE, ProfileState.READY, ProfileState.CLEANUP},
        ProfileState.IN_USE: {ProfileState.READY, ProfileState.CLEANUP},
        ProfileState.CLEANUP: {ProfileState.DESTROYED},
        ProfileState.DESTROYED: set(),
    },
)

MANAGER_LIFECYCLE: Lifecycle[ProfileManagerState] = Lifecycle(
    "ProfileManager",
    {
        ProfileManagerState.INITIALIZED: {ProfileManagerState.ACTIVE, ProfileManagerState.SHUTDOWN},
        ProfileManagerState.ACTIVE: {ProfileManagerState.SHUTDOWN},
        ProfileManagerState.SHUTDOWN: set(),
    },
)


def _number(owner: object, name: str, value: object, kind: type[float], *, above: float) -> Any:
    """`value` as a `kind` (int or float) greater than `above` (greater or equal when `kind` is int), or a
    `ValueError` naming the field."""
    label = f"{type(owner).__name__}.{name}"
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not whole):
        raise ValueError(f"{label} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    number = kind(value)
    if (kind is int and number < above) or (kind is not int and number <= above):
        raise ValueError(f"{label} must be {'>=' if kind is int else '>'} {above:g}, got {value!r}")
    object.__setattr__(owner, name, number)
    return number


@dataclass(frozen=True, kw_only=True)
class RetryConfig:
    """Retry policy for profile operations and verification (seconds)."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 5.0
    exponential_backoff: bool = True
    jitter: bool = True

    def __post_init__(self) -> None:
        _number(self, "max_attempts", self.max_attempts, int, above=1)
        _number(self, "base_delay", self.base_delay, float, above=0)
        _number(self, "max_delay", self.max_delay, float, above=0)
        if self.max_delay < self.base_delay:
            raise ValueError("max_delay must be >= base_delay")

    def wait(self) -> wait_base:
        """The tenacity wait strategy of this policy (`coupadl.retrying.backoff`, jitter included)."""
        return backoff(
            self.base_delay, self.max_delay, exponential=self.exponential_backoff, jitter=self.jitter
        )

    def delay_for(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based), without jitter."""
        plain = backoff(self.base_delay, self.max_delay, exponential=self.exponential_backoff)
        return delay_before(plain, max(1, attempt))


@dataclass(frozen=True, kw_only=True)
class VerificationConfig:
    """Which verification methods run, their timeouts (seconds), and the retry policy.

    A plain validated dataclass (not a pydantic model): it travels to every worker process in its
    `WorkerSpec`, and a worker does not import pydantic.
    """

    enabled_methods: tuple[VerificationMethod, ...] = (
        VerificationMethod.CAPABILITY_CHECK,
        VerificationMethod.AUTH_CHECK,
        VerificationMethod.FILE_VERIFICATION,
    )
    capability_timeout: float = 10.0
    auth_check_timeout: float = 30.0
    auth_check_url: str = ""
    file_verification_enabled: bool = True
    retry_config: RetryConfig = field(default_factory=RetryConfig)

    def __post_init__(self) -> None:
        methods = tuple(dict.fromkeys(VerificationMethod(m) for m in self.enabled_methods))
        if not methods:
            raise ValueError("at least one verification method must be enabled")
        object.__setattr__(self, "enabled_methods", methods)
        _number(self, "capability_timeout", self.capability_timeout, float, above=0)
        _number(self, "auth_check_timeout", self.auth_check_timeout, float, above=0)
        retry: object = self.retry_config
        if isinstance(retry, Mapping):
            object.__setattr__(self, "retry_config", RetryConfig(**retry))
        elif not isinstance(retry, RetryConfig):
            raise ValueError(f"VerificationConfig.retry_config must be a RetryConfig, got {retry!r}")
        if VerificationMethod.AUTH_CHECK in methods:
            parsed = urlparse(self.auth_check_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(
                    f"auth_check_url must be an http(s) URL when authentication is verified, "
                    f"got {self.auth_check_url!r}"
                )

    def is_enabled(self, method: VerificationMethod) -> bool:
        """True if `method` runs (the file method also needs `file_verification_enabled`)."""
        if method is VerificationMethod.FILE_VERIFICATION and not self.file_verification_enabled:
            return False
        return method in self.enabled_methods


@dataclass(frozen=True)
class MethodResult:
    """Result of one verification method: status, how long it took, and what it saw."""

    status: VerificationStatus
    duration_s: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The `run-summary.json` form."""
        return {"status": self.status.value, "duration_s": round(self.duration_s, 3), "detail": self.detail}


@dataclass
class VerificationResult:
    """All methods' results for one verification of one worker's window."""

    worker_id: int
    method_results: dict[VerificationMethod, MethodResult]
    started_at: datetime
    completed_at: datetime
    retry_count: int = 0
    error_details: str | None = None

    @property
    def overall_status(self) -> VerificationStatus:
        """SUCCESS when every method that ran passed; TIMEOUT, FAILED or PARTIAL otherwise."""
        ran = [r for r in self.method_results.values() if r.status is not VerificationStatus.SKIPPED]
        if not ran:
            return VerificationStatus.FAILED
        ok = [r for r in ran if r.status is VerificationStatus.SUCCESS]
        if len(ok) == len(ran):
            return VerificationStatus.SUCCESS
        if any(r.status is VerificationStatus.TIMEOUT for r in ran):
            return VerificationStatus.TIMEOUT
        return VerificationStatus.FAILED if not ok else VerificationStatus.PARTIAL

    def is_success(self) -> bool:
        """True if every enabled method passed."""
        return self.overall_status is VerificationStatus.SUCCESS

    def get_failed_methods(self) -> list[VerificationMethod]:
        """The methods that did not pass (skipped ones are not failures)."""
        return [
            m
            for m, r in self.method_results.items()
            if r.status not in (VerificationStatus.SUCCESS, VerificationStatus.SKIPPED)
        ]

    def get_duration(self) -> timedelta:
        """Wall time of the whole verification."""
        return self.completed_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        """The `verification` object of `run-summary.json`."""
        return {
            "status": self.overall_status.value,
            "methods": {m.value: r.to_dict() for m, r in self.method_results.items()},
            "retry_count": self.retry_count,
            "started_at": self.started_at.isoformat(),
            "completed_at": self.completed_at.isoformat(),
            "error_details": self.error_details,
        }


@dataclass
class WorkerProfile:
    """The browser profile one worker's window runs on: the base itself, or a clone of it.

    `profile_path` is the user-data-dir; `profile_name` the profile folder inside it (usually `Default`).
    """

    worker_id: int
    profile_type: ProfileType
    profile_path: Path
    profile_name: str = "Default"
    created_at: datetime = field(default_factory=_now)
    verified_at: datetime | None = None
    verification_status: VerificationStatus = VerificationStatus.PENDING
    # SHA-256 of the key files as copied (VM-003), filled in right after cloning.
    checksums: dict[str, str] = field(default_factory=dict)
    # VM-003 as checked right after cloning (SKIPPED for the base); reused by every later verification.
    file_verification: MethodResult | None = None
    history: list[VerificationResult] = field(default_factory=list)
    _state: StateMachine[ProfileState] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.worker_id, bool) or not isinstance(self.worker_id, int) or self.worker_id < 1:
            raise ValueError(f"worker_id must be a positive integer, got {self.worker_id!r}")
        self.profile_path = Path(self.profile_path)
        if not self.profile_name or os.sep in self.profile_name or "/" in self.profile_name:
            raise ValueError(f"profile_name must be a plain folder name, got {self.profile_name!r}")
        self._state = StateMachine(PROFILE_LIFECYCLE, ProfileState.CREATING, f"of worker {self.worker_id}")

    @property
    def state(self) -> ProfileState:
        """Where the profile is in its lifecycle; changed only through `transition`."""
        return self._state.state

    @property
    def letter(self) -> str:
        """The window's letter as operators say it: worker 1 is window A."""
        return window_letter(self.worker_id)

    def transition(self, new: ProfileState) -> None:
        """Move to `new` (checked against `PROFILE_LIFECYCLE`)."""
        self._state.to(new)

    def record_verification(self, result: VerificationResult) -> None:
        """Keep `result`; the most recent one decides `verification_status`."""
        self.history.append(result)
        self.verification_status = result.overall_status
        if result.is_success():
            self.verified_at = result.completed_at

    def get_selenium_options(self) -> list[str]:
        """Browser arguments that put the window on this profile."""
        return [f"--user-data-dir={self.profile_path}", f"--profile-directory={self.profile_name}"]

    def is_ready(self) -> bool:
        """True if a browser may be started on this profile now.

        A clone also needs its completion marker: a partial (interrupted) clone is never used.
        """
        if self.state not in (ProfileState.READY, ProfileState.VERIFIED) or not self.profile_path.is_dir():
            return False
        return self.profile_type is ProfileType.BASE or (self.profile_path / COMPLETE_MARKER).is_file()

    def get_verification_summary(self) -> dict[str, Any]:
        """Latest verification as in `run-summary.json` (pending when none ran yet)."""
        if not self.history:
            return {"status": self.verification_status.value, "methods": {}, "retry_count": 0}
        return self.history[-1].to_dict()


def window_letter(worker_id: int) -> str:
    """How operators name a worker's window: worker 1 is A, 2 is B, ... (W27, W28 past Z)."""
    return chr(ord("A") + worker_id - 1) if worker_id <= 26 else f"W{worker_id}"


@dataclass(frozen=True)
class ProfileStatusReport:
    """`ProfileStatus` of the base with a one-line explanation an operator can act on."""

    status: ProfileStatus
    explanation: str
    # A lock left by a crashed browser on this host: usable, but worth saying.
    stale_lock: str | None = None

    @property
    def available(self) -> bool:
        """True when the base can be used."""
        return self.status is ProfileStatus.AVAILABLE
