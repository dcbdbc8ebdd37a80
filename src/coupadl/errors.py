"""Every error coupadl raises, grouped by what the caller should do about it.

```
CoupadlError                        root: catch this to catch everything of ours
├── SetupError                      stop before anything starts (exit code 2)
│   ├── ConfigError                 a bad flag, environment variable or config key
│   ├── InputError                  the PO list cannot be read
│   ├── BrowserNotFoundError        no browser or driver executable
│   ├── DriverError                 the driver cannot drive this browser
│   │   ├── DriverMismatchError     driver and browser major versions differ
│   │   ├── DriverStartError        the driver itself does not start (not executable, quarantined ...)
│   │   └── DriverDownloadError     `coupadl driver` could not get the driver
│   ├── ProfileError                the base profile cannot be used
│   │   ├── ProfileMissingException
│   │   ├── ProfileLockedException
│   │   ├── ProfileCorruptedException
│   │   ├── PermissionDeniedException
│   │   └── DefaultProfileRefusedError   the browser refuses automation on its real default dir
│   ├── GridError                   the `--grid` Selenium Grid cannot take the run's windows
│   │   ├── GridUnreachableError    no answer, or not a Selenium Grid 4
│   │   └── GridNoFreeSlotError     no free slot for the run's browser
│   └── CarriedCookiesError         the base's sign-in cookies could not be read for remote windows
├── MachineFaultError               the machine failed (disk full, output folder gone): stop the whole run,
│                                   keep the progress, exit code 4; the same command resumes once fixed
├── ProfileOperationError           a clone or snapshot failed: re-clone (transient file-system errors)
│   ├── InsufficientSpaceException
│   └── CloneTimeoutError
├── WindowError                     the window is unusable: remediate or restart that window only
│   ├── BrowserStartError           the browser or driver did not start
│   ├── BrowserCrashedError         the session is gone (browser or driver died)
│   ├── VerificationError           the window is not on the intended, signed-in profile
│   │   ├── CapabilityMismatchException
│   │   ├── AuthenticationFailedException
│   │   ├── FileVerificationException
│   │   └── VerificationTimeoutException
│   └── SessionExpiredError         signed out mid-run: the task goes back to the queue, never "not found"
└── TaskError                       one task (PO) went wrong; the window is fine
    ├── RetryableTaskError          worth another try (a download that failed, a script error)
    │   ├── OperationTimeoutError   the browser did not finish in time (a page, a script)
    │   └── StalePageError          the tab still shows an earlier page (a navigation did not commit)
    ├── ThrottledError              the site asked to slow down: try again later, the attempt is not spent
    └── PermanentTaskError          no retry can help (malformed page, file rejected)
```

Selenium's exceptions are translated into these in exactly one place, `coupadl.browser.translate`.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailedException",
    "BrowserCrashedError",
    "BrowserNotFoundError",
    "BrowserStartError",
    "CapabilityMismatchException",
    "CarriedCookiesError",
    "CloneTimeoutError",
    "ConfigError",
    "CoupadlError",
    "DefaultProfileRefusedError",
    "DriverDownloadError",
    "DriverError",
    "DriverMismatchError",
    "DriverStartError",
    "FileVerificationException",
    "GridError",
    "GridNoFreeSlotError",
    "GridUnreachableError",
    "InputError",
    "InsufficientSpaceException",
    "MachineFaultError",
    "OperationTimeoutError",
    "PermanentTaskError",
    "PermissionDeniedException",
    "ProfileCorruptedException",
    "ProfileError",
    "ProfileLockedException",
    "ProfileMissingException",
    "ProfileOperationError",
    "RetryableTaskError",
    "SessionExpiredError",
    "SetupError",
    "StalePageError",
    "TaskError",
    "ThrottledError",
    "VerificationError",
    "VerificationTimeoutException",
    "WindowError",
]


class CoupadlError(Exception):
    """Root of every error coupadl raises on purpose."""


# --- stop before starting anything -------------------------------------------------------------------


class SetupError(CoupadlError):
    """Nothing can start: bad arguments, input, browser or base profile. The CLI exits with code 2."""


class ConfigError(SetupError):
    """A flag, environment variable or config file key is invalid."""


class InputError(SetupError):
    """The PO list is missing, empty, of an unknown format, or has no PO column."""


class BrowserNotFoundError(SetupError):
    """No browser or driver executable was found or given."""


class DriverError(SetupError):
    """The driver cannot drive this browser; `coupadl driver` (or --driver PATH) is the fix, not a sign-in."""


class DriverMismatchError(DriverError):
    """The driver's major version differs from the browser's."""


class DriverStartError(DriverError):
    """The driver executable itself does not start or answer (not executable, blocked, wrong platform)."""


class DriverDownloadError(DriverError):
    """Selenium Manager could not put the matching driver into coupadl's cache."""


class ProfileError(SetupError):
    """The configured base profile cannot be used as it is."""


class ProfileMissingException(ProfileError):
    """The base user-data-dir or its profile folder does not exist."""


class ProfileLockedException(ProfileError):
    """A running browser (on this host or another) holds the base profile."""


class ProfileCorruptedException(ProfileError):
    """The base profile's key files cannot be parsed or fail an integrity check."""


class PermissionDeniedException(ProfileError):
    """The base profile cannot be read, or the clone folder cannot be written."""


class DefaultProfileRefusedError(ProfileError):
    """The browser refuses remote control on its own default user-data-dir (Chrome 136+)."""


# --- the machine failed: stop the whole run ----------------------------------------------------------------


class MachineFaultError(CoupadlError):
    """The machine, not a PO or a window, failed: the output folder's disk is full, or the folder is gone.

    No task can succeed until the operator fixes it, so the run stops (windows closed, clones removed,
    progress kept) and the CLI exits with code 4. `folder` is the folder concerned, `hint` what to do.
    """

    def __init__(self, message: str, *, folder: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.folder = folder
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}; {self.hint}" if self.hint else text

    def __reduce__(self) -> tuple[object, ...]:  # keyword-only fields survive pickling between processes
        return (_machine_fault, (self.args[0] if self.args else "", self.folder, self.hint))


def _machine_fault(message: str, folder: str, hint: str) -> MachineFaultError:
    return MachineFaultError(message, folder=folder, hint=hint)


# --- profile operations that may succeed on another try -----------------------------------------------


class ProfileOperationError(CoupadlError):
    """Making a snapshot or clone failed; a fresh attempt may succeed."""


class InsufficientSpaceException(ProfileOperationError):
    """Not enough free disk space for a snapshot or clone."""


class CloneTimeoutError(ProfileOperationError):
    """A clone took longer than `clone_timeout`."""


# --- the window must be remediated or restarted ------------------------------------------------------------


class WindowError(CoupadlError):
    """The browser window is unusable; remediate or restart this window only."""


class BrowserStartError(WindowError):
    """The browser or its driver did not start."""


class BrowserCrashedError(WindowError):
    """The browser or driver died; the session cannot take another command."""


class VerificationError(WindowError):
    """The window is not proven to run on the intended, signed-in profile."""


class CapabilityMismatchException(VerificationError):
    """The driver reports another user-data-dir than the one intended."""


class AuthenticationFailedException(VerificationError):
    """The authenticated page redirected to sign-in or SSO."""


class FileVerificationException(VerificationError):
    """A clone's key files are missing or differ from the snapshot."""


class VerificationTimeoutException(VerificationError):
    """A verification method did not finish within its timeout."""


class SessionExpiredError(WindowError):
    """The site sent the window to sign-in mid-run. The task is not the problem and must not fail."""

    def __init__(self, message: str, *, redirected_to: str = "") -> None:
        super().__init__(message)
        self.redirected_to = redirected_to


# --- one task went wrong ----------------------------------------------------------------------------------


class TaskError(CoupadlError):
    """A task (one PO) failed while the window itself is fine."""


class RetryableTaskError(TaskError):
    """Another attempt may succeed (a slow page, a download that failed)."""


class OperationTimeoutError(RetryableTaskError):
    """A page load or script did not finish within its timeout."""


class PermanentTaskError(TaskError):
    """No retry can help; the task is failed at once."""


class StalePageError(RetryableTaskError):
    """The task's tab does not show a page of this task: a navigation did not commit (the previous page is
    still there) or failed. The tab is replaced and the task tried again."""


class ThrottledError(TaskError):
    """The site answered "too many requests": the task goes back to the queue without spending an attempt,
    and no window takes another task before `retry_after_s` seconds have passed.

    Attributes:
        retry_after_s: How long to hold off, in seconds (from the site's `Retry-After`, else a back-off).
    """

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(0.0, float(retry_after_s))


# --- windows on a Selenium Grid (issue 13) ------------------------------------------------------------------


class GridError(SetupError):
    """The Selenium Grid given with `--grid` cannot take this run's windows (exit code 2, before anything)."""


class GridUnreachableError(GridError):
    """The Grid does not answer, or answers with something that is not a Selenium Grid 4 status."""


class GridNoFreeSlotError(GridError):
    """The Grid has no free slot for the run's browser."""


class CarriedCookiesError(SetupError):
    """The base's sign-in cookies could not be read for the remote windows (nothing to carry)."""
