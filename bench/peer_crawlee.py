"""The Crawlee peer: the same job written the way Crawlee's users write it, for `bench/run.py`.

`crawlee[playwright]` from PyPI (the `bench` extra). Playwright launches Debian's Chromium
(`executable_path`, no `playwright install`) on a copy of the signed-in profile through Crawlee's persistent
context (`user_data_dir` → `launch_persistent_context`), `ConcurrencySettings` fixed at the given
concurrency, one request per PO, each attachment clicked and taken with `page.expect_download()`.

Session-only cookies: a persistent context loads the profile's session cookies only when the profile says
"continue where you left off" (`session.restore_on_startup: 1`, see facts/chromium-profiles.md). When the
copy starts signed out anyway, the peer signs in the way its users do: a first request that fills the
site's sign-in form before the POs are queued (`signed_in_by_form` in the result says so).

    python bench/peer_crawlee.py BASE_URL PROFILE_DIR OUT_DIR --concurrency 3 PO_DIGITS...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from crawlee import ConcurrencySettings, Request
from crawlee.crawlers import PlaywrightCrawler, PlaywrightCrawlingContext
from crawlee.storage_clients import MemoryStorageClient

# The attachment controls of the sandbox's PO pages, as a user would pick them from the page's markup.
ATTACHMENTS = ", ".join(
    [
        "li.attachment [role=button]",
        "li.attachment [role=link]",
        "li.attachment a:not(.attachment-info)",
    ]
)
SIGN_IN_FORM = "input[type=password]"


async def crawl(
    base_url: str,
    profile: Path,
    out: Path,
    numbers: list[str],
    concurrency: int,
    executable: str = "/usr/bin/chromium",
) -> dict[str, Any]:
    """Download every PO's attachments; returns timings and what was saved."""
    base = base_url.rstrip("/")
    saved: dict[str, list[str]] = {}
    state: dict[str, Any] = {"signed_in_by_form": False, "failed": []}
    crawler = PlaywrightCrawler(
        browser_type="chromium",
        user_data_dir=profile,
        browser_launch_options={
            "executable_path": executable,
            "accept_downloads": True,
            "chromium_sandbox": os.geteuid() != 0,  # Chromium refuses its sandbox as root
        },
        headless=True,
        concurrency_settings=ConcurrencySettings(
            min_concurrency=concurrency, max_concurrency=concurrency, desired_concurrency=concurrency
        ),
        max_request_retries=2,
        request_handler_timeout=timedelta(seconds=120),
        storage_client=MemoryStorageClient(),
        configure_logging=False,
    )

    @crawler.router.handler("signin")
    async def sign_in(context: PlaywrightCrawlingContext) -> None:
        page = context.page
        if await page.locator(SIGN_IN_FORM).count():
            await page.fill("input[type=email], input[name='user[email]']", "bench@example.com")
            await page.fill(SIGN_IN_FORM, "bench")
            async with page.expect_navigation():
                await page.click("[type=submit]")
            state["signed_in_by_form"] = True
        await context.add_requests(
            [Request.from_url(f"{base}/order_headers/{n}", user_data={"po": n}) for n in numbers]
        )

    @crawler.router.default_handler
    async def po_page(context: PlaywrightCrawlingContext) -> None:
        page = context.page
        number = str(context.request.user_data["po"])
        folder = out / number
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for button in await page.locator(ATTACHMENTS).all():
            async with page.expect_download() as info:
                await button.click()
            download = await info.value
            await download.save_as(folder / download.suggested_filename)
            names.append(download.suggested_filename)
        saved[number] = names

    @crawler.failed_request_handler
    async def failed(context: Any, error: Exception) -> None:
        state["failed"].append(f"{context.request.url}: {error}")

    started = time.monotonic()
    stats = await crawler.run([Request.from_url(f"{base}/user/home", label="signin")])
    return {
        "seconds": time.monotonic() - started,
        "saved": saved,
        "requests_finished": stats.requests_finished,
        "requests_failed": stats.requests_failed,
        **state,
    }


def peer_crawlee(
    base_url: str, profile: Path, out: Path, numbers: list[str], concurrency: int, executable: str
) -> dict[str, Any]:
    """Synchronous entry point for `bench/run.py`."""
    return asyncio.run(crawl(base_url, profile, out, numbers, concurrency, executable))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("profile", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("numbers", nargs="+")
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--executable", default="/usr/bin/chromium")
    args = parser.parse_args()
    result = peer_crawlee(
        args.base_url, args.profile, args.out, args.numbers, args.concurrency, args.executable
    )
    result["saved"] = sum(len(v) for v in result["saved"].values())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
