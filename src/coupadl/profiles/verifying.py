"""Verification assembly: the file check of a clone (VM-003) and the combination of every enabled method's
result into the `VerificationResult` recorded on a profile.

The browser methods (VM-001 authentication, VM-002 capability) run in the browser layer, which passes their
results in; this module only combines them, so the profile layer never drives a browser.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from coupadl.log import get_logger
from coupadl.profiles.checksums import compare_checksums
from coupadl.profiles.markers import is_complete
from coupadl.profiles.models import (
    MethodResult,
    ProfileState,
    ProfileType,
    VerificationConfig,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
    WorkerProfile,
)
from coupadl.profiles.snapshot import Snapshot, byte_checksums

__all__ = ["BASE_FILES_SKIPPED", "assemble_verification", "check_clone_files"]

log = get_logger(__name__)

BASE_FILES_SKIPPED = "base profile: the snapshot was checked against it"


def check_clone_files(profile: WorkerProfile, snapshot: Snapshot) -> MethodResult:
    """VM-003 now: the clone's key files against the snapshot's checksums; records `profile.checksums`.

    The base profile is SKIPPED: its snapshot was checked against it when it was taken.
    """
    started = time.perf_counter()
    if profile.profile_type is ProfileType.BASE:
        return MethodResult(VerificationStatus.SKIPPED, 0.0, BASE_FILES_SKIPPED)
    if not is_complete(profile.profile_path):
        return MethodResult(
            VerificationStatus.FAILED,
            time.perf_counter() - started,
            f"incomplete clone {profile.profile_path}: no completion marker",
        )
    try:
        sums = byte_checksums(profile.profile_path, list(snapshot.checksums))
    except OSError as exc:
        return MethodResult(VerificationStatus.FAILED, time.perf_counter() - started, f"unreadable: {exc}")
    profile.checksums = sums
    problems = compare_checksums(snapshot.checksums, sums)
    duration = time.perf_counter() - started
    if problems:
        return MethodResult(VerificationStatus.FAILED, duration, "; ".join(problems))
    return MethodResult(
        VerificationStatus.SUCCESS, duration, f"{len(sums)} key files identical to the snapshot"
    )


def assemble_verification(
    config: VerificationConfig,
    profile: WorkerProfile,
    browser_results: Mapping[VerificationMethod, MethodResult] | None,
    *,
    check_files: Callable[[], MethodResult],
    retry_count: int = 0,
) -> VerificationResult:
    """Combine the enabled methods' results into a `VerificationResult` recorded on `profile`.

    The file method uses the check made right after cloning (or `check_files()` now if there was none); an
    enabled method with no result is PENDING, so the verification cannot pass without it. A READY profile
    that passes becomes VERIFIED.
    """
    started = datetime.now(UTC)
    results: dict[VerificationMethod, MethodResult] = {}
    given = dict(browser_results or {})
    for method in config.enabled_methods:
        if method is VerificationMethod.FILE_VERIFICATION:
            if not config.is_enabled(method):
                results[method] = MethodResult(VerificationStatus.SKIPPED, 0.0, "disabled")
            elif method in given:
                results[method] = given[method]
            else:
                results[method] = profile.file_verification or check_files()
        elif method in given:
            results[method] = given[method]
        else:
            results[method] = MethodResult(VerificationStatus.PENDING, 0.0, "not run")
    result = VerificationResult(
        worker_id=profile.worker_id,
        method_results=results,
        started_at=started,
        completed_at=datetime.now(UTC),
        retry_count=retry_count,
    )
    if not result.is_success():
        result.error_details = ", ".join(
            f"{m.value}: {results[m].detail or results[m].status.value}" for m in result.get_failed_methods()
        )
    profile.record_verification(result)
    if result.is_success() and profile.state is ProfileState.READY:
        profile.transition(ProfileState.VERIFIED)
    log.info(
        "profile_verified",
        worker_id=profile.worker_id,
        window=profile.letter,
        status=result.overall_status.value,
        error=result.error_details,
    )
    return result
