"""What a window reports to the operator: its remediation steps and the `WindowReport` a worker sends to the
supervisor. Apart from `coupadl.browser.window`, so the supervisor reads reports without importing Selenium.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from coupadl.profiles.models import ProfileType, VerificationResult, VerificationStatus, window_letter

__all__ = ["RemediationAction", "RemediationStep", "WindowReport"]


class RemediationAction(StrEnum):
    """One step of the per-window remediation ladder."""

    RETRY = "retry"  # verify again after a backoff
    RELOAD = "reload"  # reload the authenticated page, then verify
    RECLONE = "reclone"  # quit, replace the clone from the snapshot, start again (clones only)
    RESTART = "restart"  # quit and start the browser again on the same profile
    RECARRY = "recarry"  # remote windows: set the carried cookies again and reload, then verify
    NEW_SESSION = "new_session"  # remote windows: quit the session, start a new one (any node)


@dataclass(frozen=True)
class RemediationStep:
    """What one remediation step did and how it ended."""

    action: RemediationAction
    succeeded: bool
    duration_s: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The `remediations` entry of `run-summary.json`."""
        return {
            "step": self.action.value,
            "outcome": "success" if self.succeeded else "failed",
            "duration_s": round(self.duration_s, 3),
            "detail": self.detail,
        }


@dataclass
class WindowReport:
    """Per-window facts for the operator: profile, verification, remediation, work done.

    Picklable: a worker sends it to the supervisor as it is. `status` is the pool's last word on the window's
    worker (a `WorkerStatus` value; empty until the pool says it). `to_dict()` is its JSON form, for output
    files only.
    """

    worker_id: int
    profile_type: ProfileType
    profile_path: Path
    verification: VerificationResult | None = None
    remediations: list[RemediationStep] = field(default_factory=list)
    diagnosis: str = ""
    processed: int = 0
    restarts: int = 0
    browser_pid: int | None = None
    status: str = ""
    remote: dict[str, str] | None = None  # a Grid window: session id, node, browser version (not for local)

    @property
    def letter(self) -> str:
        """Window letter: worker 1 is A."""
        return window_letter(self.worker_id)

    @property
    def verified(self) -> bool:
        """True when the last verification passed every method."""
        return self.verification is not None and self.verification.is_success()

    def to_dict(self) -> dict[str, Any]:
        """The `workers` entry of `run-summary.json`."""
        verification = (
            self.verification.to_dict()
            if self.verification
            else {"status": VerificationStatus.FAILED.value, "methods": {}, "retry_count": 0}
        )
        out: dict[str, Any] = {
            "worker_id": self.worker_id,
            "window": self.letter,
            "profile_type": self.profile_type.value,
            "profile_path": str(self.profile_path),
            "verification": verification,
            "remediations": [r.to_dict() for r in self.remediations],
            "diagnosis": self.diagnosis,
            "processed": self.processed,
            "restarts": self.restarts,
        }
        if self.status:
            out["status"] = self.status
        if self.remote is not None:
            out["remote"] = dict(self.remote)
        return out
