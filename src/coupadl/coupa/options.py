"""`JobOptions`: what the Coupa job (`coupadl.coupa.job.process_po`) understands, validated.

Apart from the job, so the supervisor builds the options it sends every worker without importing what the job
drives (the browser session, the HTTP clients).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coupadl.choices import DEFAULT_LOADING_TEXTS
from coupadl.coupa.download_model import DownloadMode, DownloadSettings
from coupadl.coupa.page import ERROR_TEXTS
from coupadl.errors import PermanentTaskError

__all__ = ["JobOptions"]


@dataclass(frozen=True)
class JobOptions:
    """The options `process_po` understands, validated (seconds for durations).

    Attributes:
        base_url: The Coupa host.
        out_dir: The output root; PO folders go below it.
        page_load_timeout: Longest wait for a page to load.
        download_timeout: Longest time one try of one file may take.
        download_start_timeout: A try fails when no download appeared within this time.
        max_download_attempts: Tries per file.
        requisition_fallback: When the PO shows no attachment, take those of its linked requisitions.
        download_stall_timeout: A try fails when the partial file stops growing for this long
            (default: `download_start_timeout`).
        retry_backoff: Wait before a file's second try (doubles, at most 10 x).
        download_mode: `auto` (over HTTP with the window's session, in the page when refused), `http` or
            `browser`.
        download_concurrency: Files of one page fetched over HTTP at once.
        min_free_bytes: Below this much free space on the output disk the run stops (`MachineFaultError`).
        settle_quiet: "No attachments" only after the candidates were unchanged this long.
        settle_timeout: A page not settled by then is retried (then failed) with the reason.
        error_texts: Texts of Coupa's "missing or forbidden" page, every language.
        loading_texts: Texts a loading attachments area shows.
        throttle_backoff: Wait after HTTP 429 when the site gives no usable `Retry-After`.
        throttle_max_wait: The longest wait a `Retry-After` can ask for.
    """

    base_url: str
    out_dir: Path
    page_load_timeout: float = 60.0
    download_timeout: float = 120.0
    download_start_timeout: float = 15.0
    max_download_attempts: int = 3
    requisition_fallback: bool = True
    download_stall_timeout: float | None = None
    retry_backoff: float = 0.5
    download_mode: DownloadMode = DownloadMode.AUTO
    download_concurrency: int = 3
    min_free_bytes: int = 0
    settle_quiet: float = 2.0
    settle_timeout: float = 15.0
    error_texts: tuple[str, ...] = ERROR_TEXTS
    loading_texts: tuple[str, ...] = DEFAULT_LOADING_TEXTS
    throttle_backoff: float = 30.0
    throttle_max_wait: float = 300.0

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> JobOptions:
        """Build from the pool's plain options dict; unknown keys are ignored.

        Raises:
            PermanentTaskError: A required key is missing or a value is unusable.
        """
        try:
            stall = options.get("download_stall_timeout")
            return cls(
                base_url=str(options["base_url"]),
                out_dir=Path(options["out_dir"]),
                page_load_timeout=float(options.get("page_load_timeout", 60.0)),
                download_timeout=float(options.get("download_timeout", 120.0)),
                download_start_timeout=float(options.get("download_start_timeout", 15.0)),
                max_download_attempts=int(options.get("max_download_attempts", 3)),
                requisition_fallback=bool(options.get("requisition_fallback", True)),
                download_stall_timeout=float(stall) if stall is not None else None,
                retry_backoff=float(options.get("retry_backoff", 0.5)),
                download_mode=DownloadMode(str(options.get("download_mode", DownloadMode.AUTO.value))),
                download_concurrency=int(options.get("download_concurrency", 3)),
                min_free_bytes=int(options.get("min_free_bytes", 0)),
                settle_quiet=float(options.get("settle_quiet", 2.0)),
                settle_timeout=float(options.get("settle_timeout", 15.0)),
                error_texts=_strings(options.get("error_texts"), ERROR_TEXTS),
                loading_texts=_strings(options.get("loading_texts"), DEFAULT_LOADING_TEXTS),
                throttle_backoff=float(options.get("throttle_backoff", 30.0)),
                throttle_max_wait=float(options.get("throttle_max_wait", 300.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentTaskError(f"bad task options: {exc!r}") from exc

    def download_settings(self) -> DownloadSettings:
        """The download part of these options."""
        return DownloadSettings(
            download_timeout=self.download_timeout,
            start_timeout=self.download_start_timeout,
            stall_timeout=self.download_stall_timeout or self.download_start_timeout,
            max_attempts=self.max_download_attempts,
            backoff_initial=self.retry_backoff,
            backoff_max=self.retry_backoff * 10,
            mode=self.download_mode,
            concurrency=self.download_concurrency,
        )


def _strings(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of texts, got {value!r}")
    return tuple(v for v in value if v.strip())
