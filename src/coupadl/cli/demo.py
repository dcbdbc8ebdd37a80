"""`coupadl demo`: the whole job against the bundled Coupa-like site, needing nothing but the setup command.

It serves the sandbox, signs a fresh profile in (the same way `coupadl login` leaves one), writes a PO list
with every kind of outcome, and runs 3 windows on it exactly as `coupadl run` would.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from rich.console import Console

from coupadl.batch import read_po_list
from coupadl.browser.discovery import find_executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.cli.exit_codes import ExitCode
from coupadl.cli.runner import BatchRun
from coupadl.errors import BrowserNotFoundError
from coupadl.sandbox import SandboxServer, Scenario, sign_in_profile
from coupadl.settings import BrowserKind, load_settings

__all__ = ["run_demo", "write_demo_po_list"]


def _first_browser() -> BrowserKind:
    """Edge when installed (the operators' browser), else Chrome, else Chromium."""
    for kind in (BrowserKind.EDGE, BrowserKind.CHROME, BrowserKind.CHROMIUM):
        try:
            find_executables(kind, check_versions=False)
        except BrowserNotFoundError:
            continue
        return kind
    raise BrowserNotFoundError("no Edge, Chrome or Chromium found: run the README's setup command first")


def write_demo_po_list(scenario: Scenario, path: Path) -> Path:
    """A CSV like operators get: every scenario PO, one written without prefix, one duplicate, two invalid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    numbers = [po.number for po in scenario.pos]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["PO_NUMBER", "Requester", "Note"])
        for index, number in enumerate(numbers):
            shown = number if index % 5 == 4 else f"PO{number}"
            writer.writerow([shown, f"requester {index + 1}", ""])
        writer.writerow([f"po{numbers[0]}", "requester 1", "listed twice"])
        writer.writerow(["PO12-34", "nobody", "not a PO number"])
        writer.writerow(["", "nobody", "empty cell"])
    return path


def run_demo(root: Path, *, workers: int = 3, headless: bool = True, console: Console) -> ExitCode:
    """Serve the sandbox, sign a profile in, run the job; print where files and results are."""
    root = root.expanduser().resolve()
    kind = _first_browser()
    executables = find_executables(kind)
    scenario = Scenario.demo()
    profile = root / "profile"
    shutil.rmtree(profile, ignore_errors=True)  # always a freshly signed-in profile
    with SandboxServer(scenario) as server:
        console.print(
            f"sandbox Coupa site at {server.base_url} ({len(scenario.pos)} POs), browser {kind.value}"
        )
        sign_in_profile(LaunchConfig(executables, headless=True), profile, server.base_url)
        po_list_path = write_demo_po_list(scenario, root / "po-list.csv")
        settings = load_settings(
            {
                "base_url": server.base_url,
                "out": root / "output",
                "workers": workers,
                "profile": str(profile),
                "browser": kind.value,
                "browser_binary": executables.binary,
                "driver": executables.driver,
                "headless": headless,
                "fresh": True,
                "download_start_timeout": 5.0,
            }
        )
        code = BatchRun(settings, read_po_list(po_list_path), console).execute()
    console.print(f"PO list:     {po_list_path}")
    console.print(f"attachments: {settings.out.resolve()} (one folder per supplier and PO)")
    console.print(f"results:     {settings.out.resolve() / 'results.csv'}")
    return code
