"""Browser profiles of the windows: the base, its per-run snapshot, one clone per window, and cleanup.

```
locations   where user-data-dirs live (per browser and OS), the --profile value, the temp root
status      is the base usable now?  → ProfileStatusReport (AVAILABLE / MISSING / LOCKED / ...)
locks       Chromium's own SingletonLock / lockfile, read, never taken
copying     what is copied (no caches, no locks) and how (SQLite backup API, parallel byte copies)
snapshot    the run's checked snapshot of the base and clones made from it (VM-003)
checksums   SHA-256 of key artifacts, SQLite by content
markers     owner (PID + create time) and completion markers of coupadl's temp folders
preferences settings a window needs, in the profile's own Preferences (clones for good, the base journaled)
sweep       guarded removal, waiting for browsers to exit, orphan sweep
cloning     the run folder with its snapshot, clones of it within the clone slots and with retries
verifying   the clone's file check (VM-003) and the assembly of a VerificationResult
config      ProfileConfig (picklable, for worker processes) and CloneSlots
manager     ProfileManager: the facade and lifecycle tying it all together
models      enums, lifecycles, configs, WorkerProfile, VerificationResult
```
"""

from coupadl.profiles.locations import (
    default_temp_root,
    default_user_data_dir,
    is_default_user_data_dir,
    resolve_profile_dir,
    tool_profile_dir,
    which_default_user_data_dir,
)
from coupadl.profiles.manager import CloneSlots, ProfileConfig, ProfileManager
from coupadl.profiles.models import (
    MethodResult,
    ProfileManagerState,
    ProfileState,
    ProfileStatus,
    ProfileStatusReport,
    ProfileType,
    RetryConfig,
    VerificationConfig,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
    WorkerProfile,
)
from coupadl.profiles.status import get_base_profile_status, raise_for_status
from coupadl.profiles.sweep import SweepReport, UnsafeRemovalError, sweep_orphans

__all__ = [
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
