"""Baseline: the sequential one-window Selenium loop a user would write by hand.

driver.get each PO, find the attachment elements, click each, wait for the files with a simple loop.
Usage: python bench/plain_loop.py BASE_URL PROFILE_DIR OUT_DIR PO_DIGITS...
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

SELECTORS = ", ".join(
    [
        "li.attachment [role=button]",
        "li.attachment [role=link]",
        "li.attachment a:not(.attachment-info)",
    ]
)


def plain_loop(
    base_url: str,
    profile: Path,
    out: Path,
    numbers: list[str],
    binary: str = "/usr/bin/chromium",
    driver_path: str = "/usr/bin/chromedriver",
) -> float:
    """Download every PO's attachments sequentially; returns the seconds spent on the POs (no start-up)."""
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    options.add_argument("--headless=new")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--no-sandbox")
    # Loads the profile's session-only cookies (the sandbox's demo and Rails' default sign-in cookie), which
    # Chromium restores only with the last session; without it the loop would run signed out.
    options.add_argument("--restore-last-session")
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        started = time.monotonic()
        for number in numbers:
            folder = out / number
            folder.mkdir(parents=True, exist_ok=True)
            driver.execute_cdp_cmd(
                "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
            )
            driver.get(f"{base_url}/order_headers/{number}")
            elements = driver.find_elements(By.CSS_SELECTOR, SELECTORS)
            for element in elements:
                element.click()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                names = [p.name for p in folder.iterdir()]
                if len(names) >= len(elements) and not any(n.endswith(".crdownload") for n in names):
                    break
                time.sleep(0.1)
        return time.monotonic() - started
    finally:
        driver.quit()


if __name__ == "__main__":
    seconds = plain_loop(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
    print(f"{len(sys.argv[4:])} POs in {seconds:.1f} s")
