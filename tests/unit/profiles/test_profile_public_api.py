"""The public face of `coupadl.profiles`."""

from __future__ import annotations

import coupadl.profiles as profiles


def test_all_names_exist_and_are_exactly_these() -> None:
    assert sorted(profiles.__all__) == profiles.__all__
    for name in profiles.__all__:
        assert hasattr(profiles, name), name
    assert {
        "ProfileManager",
        "ProfileConfig",
        "WorkerProfile",
        "get_base_profile_status",
        "raise_for_status",
        "sweep_orphans",
        "resolve_profile_dir",
        "is_default_user_data_dir",
    } <= set(profiles.__all__)
