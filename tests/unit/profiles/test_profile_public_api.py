"""The public face of `coupadl.profiles`: exactly these names, each defined."""

from __future__ import annotations

import coupadl.profiles as profiles

PUBLIC = [
    "CloneSlots",
    "MethodResult",
    "ProfileConfig",
    "ProfileManager",
    "ProfileManagerState",
    "ProfileState",
    "ProfileStatus",
    "ProfileStatusReport",
    "ProfileType",
    "RetryConfig",
    "SweepReport",
    "UnsafeRemovalError",
    "VerificationConfig",
    "VerificationMethod",
    "VerificationResult",
    "VerificationStatus",
    "WorkerProfile",
    "default_temp_root",
    "default_user_data_dir",
    "get_base_profile_status",
    "is_default_user_data_dir",
    "raise_for_status",
    "resolve_profile_dir",
    "sweep_orphans",
    "tool_profile_dir",
    "which_default_user_data_dir",
]


def test_all_names_exist_and_are_exactly_these() -> None:
    assert profiles.__all__ == PUBLIC  # sorted, no duplicate, nothing more and nothing less
    for name in profiles.__all__:
        assert getattr(profiles, name, None) is not None, name
