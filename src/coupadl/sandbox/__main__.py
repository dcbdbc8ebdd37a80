"""Serve the sandbox until Ctrl+C.

Usage: `python -m coupadl.sandbox [--port N] [--scenario FILE.json | --demo] [--latency S] [--dump-scenario]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from coupadl.sandbox.scenario import Scenario
from coupadl.sandbox.server import SandboxServer

__all__ = ["main"]

EXIT_OK = 0
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m coupadl.sandbox", description="Serve the local Coupa-like sandbox site until Ctrl+C."
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--scenario", type=Path, metavar="FILE.json", help="scenario to serve")
    source.add_argument("--demo", action="store_true", help="serve the demo scenario (about 20 POs)")
    parser.add_argument("--latency", type=float, metavar="S", help="seconds added to every HTML page")
    parser.add_argument("--dump-scenario", action="store_true", help="print the scenario as JSON and exit")
    return parser


def _scenario(args: argparse.Namespace) -> Scenario:
    if args.scenario is not None:
        scenario = Scenario.load(args.scenario)
    else:
        scenario = Scenario.demo() if args.demo else Scenario.small()
    if args.latency is not None:
        scenario = dataclasses.replace(scenario, page_latency_s=args.latency)
    return scenario


def main(argv: list[str] | None = None) -> int:
    """Parse `argv`, then serve (or dump) the scenario. Returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    try:
        scenario = _scenario(args)
    except (OSError, ValueError) as exc:
        print(f"error: cannot use scenario {args.scenario}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.dump_scenario:
        print(scenario.to_json())
        return EXIT_OK
    server = SandboxServer(scenario, port=args.port)
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        print(f"coupadl sandbox at {server.base_url} ({len(scenario.pos)} POs); Ctrl+C stops it", flush=True)
        print(f"  sign a browser in: {server.url('/sandbox/autologin?next=/user/home')}")
        for po in scenario.pos[:3]:
            print(f"  PO: {server.po_url(po.number)}")
        print(
            f"  files: {server.url('/sandbox/files')}  requests: {server.url('/sandbox/requests')}",
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.stop()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
