"""`ProfileConfig` (what a `ProfileManager` needs, picklable for worker processes) and `CloneSlots`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from coupadl.choices import ProfilePolicy
from coupadl.errors import ConfigError
from coupadl.profiles.locations import default_temp_root, resolve_profile_dir
from coupadl.profiles.models import RetryConfig, VerificationConfig, VerificationMethod

if TYPE_CHECKING:  # a worker process gets its configuration, never the settings (pydantic)
    from coupadl.settings import Settings

__all__ = ["CloneSlots", "ProfileConfig", "default_verification"]


class CloneSlots(Protocol):
    """A semaphore-like object limiting concurrent clones: `threading.BoundedSemaphore`,
    `multiprocessing.BoundedSemaphore` (shared by worker processes), or `filelock.FileLock`."""

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        """Take a slot; `timeout=` seconds at most."""

    def release(self) -> Any:
        """Give the slot back."""


def default_verification() -> VerificationConfig:
    """File checks only: browser checks need a URL and a window (the pool passes the real configuration)."""
    return VerificationConfig(enabled_methods=(VerificationMethod.FILE_VERIFICATION,))


@dataclass(frozen=True)
class ProfileConfig:
    """Everything a `ProfileManager` needs, picklable so a worker process can rebuild one."""

    base_profile_path: Path
    profile_name: str = "Default"
    temp_directory: Path = field(default_factory=default_temp_root)
    max_concurrent_clones: int = 1
    clone_timeout: float = 60.0
    verification_config: VerificationConfig = field(default_factory=default_verification)
    policy: ProfilePolicy = ProfilePolicy.BASE_FIRST
    retry_config: RetryConfig | None = None  # clone retries; the verification retry policy when None

    def __post_init__(self) -> None:
        if self.max_concurrent_clones < 1:
            raise ConfigError(f"max_concurrent_clones must be at least 1, got {self.max_concurrent_clones}")
        if self.clone_timeout <= 0:
            raise ConfigError(f"clone_timeout must be positive, got {self.clone_timeout}")
        base = Path(self.base_profile_path).absolute()
        temp = Path(self.temp_directory).absolute()
        object.__setattr__(self, "base_profile_path", base)
        object.__setattr__(self, "temp_directory", temp)
        rb, rt = base.resolve(), temp.resolve()
        if rb == rt or rb.is_relative_to(rt) or rt.is_relative_to(rb):
            raise ConfigError(f"the temp folder {temp} and the base profile {base} must not overlap")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        temp_directory: Path | None = None,
        verification_config: VerificationConfig | None = None,
    ) -> ProfileConfig:
        """The configuration of a run: `--profile` resolved, clones throttled to the number of workers, and
        (unless given) capability and file checks, plus authentication when a Coupa address is set."""
        if verification_config is None:
            methods = [VerificationMethod.CAPABILITY_CHECK, VerificationMethod.FILE_VERIFICATION]
            url = ""
            if settings.base_url:
                methods.insert(1, VerificationMethod.AUTH_CHECK)
                url = settings.auth_check_url
            verification_config = VerificationConfig(
                enabled_methods=tuple(methods),
                auth_check_url=url,
                auth_check_timeout=settings.auth_check_timeout,
            )
        return cls(
            base_profile_path=resolve_profile_dir(settings.profile),
            profile_name=settings.profile_name,
            temp_directory=temp_directory or default_temp_root(),
            max_concurrent_clones=settings.workers,
            clone_timeout=settings.clone_timeout,
            verification_config=verification_config,
            policy=settings.profile_policy,
        )

    @property
    def clone_retry(self) -> RetryConfig:
        """Retry policy of clone copies."""
        return self.retry_config or self.verification_config.retry_config
