"""coupadl's command line: the `coupadl` command is `coupadl.cli.app`."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """The `coupadl` console script.

    The command is imported only when it runs: a worker process spawned by the console script imports the
    script again (as `__mp_main__`, the spawn start method), and the CLI's modules (click, rich, pydantic
    settings) are of no use to it.
    """
    from coupadl.cli.app import main as run_command

    run_command()
