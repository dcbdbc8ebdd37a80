"""The `coupadl` command: validates, wires and exits with a meaningful code (see `ExitCode`).

Options follow `shared/contract.md`: flag > `COUPADL_*` environment > `--config` TOML file > default.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from coupadl import __version__
from coupadl.cli.display import format_window_table, make_console
from coupadl.cli.exit_codes import ExitCode
from coupadl.errors import CoupadlError, MachineFaultError, SetupError
from coupadl.log import close_logging, configure_logging, log_path
from coupadl.settings import (
    MAX_GRID_WORKERS,
    MAX_WORKERS,
    MIN_WORKERS,
    BrowserKind,
    ProfilePolicy,
    Settings,
    load_settings,
)

__all__ = ["cli", "main"]


def _shared_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options `run` and `check` share (contract table)."""
    options = [
        click.option("--base-url", help="Coupa host, e.g. https://acme.coupahost.com [env COUPADL_BASE_URL]"),
        click.option("--out", type=click.Path(path_type=Path), help="output root [./coupadl-output]"),
        click.option(
            "--workers",
            type=int,
            help=f"parallel windows, {MIN_WORKERS}..{MAX_WORKERS} "
            f"({MIN_WORKERS}..{MAX_GRID_WORKERS} with --grid) [3]",
        ),
        click.option(
            "--profile",
            help="base user-data-dir; 'edge-default' = the OS default Edge dir "
            "[coupadl's own profile, made by `coupadl login`]",
        ),
        click.option("--profile-name", help="profile folder inside the user-data-dir [Default]"),
        click.option(
            "--profile-policy",
            type=click.Choice([p.value for p in ProfilePolicy]),
            help="base-first: window A on the base; all-clones: every window on a clone [base-first]",
        ),
        click.option("--browser", type=click.Choice([b.value for b in BrowserKind]), help="[edge]"),
        click.option("--browser-binary", type=click.Path(path_type=Path), help="browser executable"),
        click.option(
            "--driver", type=click.Path(path_type=Path), help="msedgedriver/chromedriver executable"
        ),
        click.option("--headless/--visible", default=None, help="show the windows or not [headless]"),
        click.option("--config", type=click.Path(path_type=Path), help="TOML file with the same keys"),
        click.option(
            "--grid",
            help="Selenium Grid URL: the windows run there, signed in with the base's cookies "
            f"(--workers up to {MAX_GRID_WORKERS}) [env COUPADL_GRID]",
        ),
        click.option(
            "--grid-insecure",
            is_flag=True,
            default=None,
            help="accept a plain http:// Grid that is not on loopback "
            "(the sign-in cookies travel unencrypted)",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _settings(**flags: Any) -> Settings:
    return load_settings(flags)


def _fail(message: str, code: ExitCode = ExitCode.SETUP) -> NoReturn:
    """One line on stderr (naming the log file once there is one), then exit with `code`."""
    log = log_path()
    where = f" (log: {log})" if log is not None else ""
    click.echo(f"coupadl: error: {message}{where}", err=True)
    sys.exit(int(code))


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    """What `run` and `demo` end with when they cannot go on: a setup error → one line, exit 2; a fault of
    the machine (disk full, folder gone) → "stopped: …", exit 4."""
    try:
        yield
    except SetupError as exc:
        _fail(str(exc))
    except MachineFaultError as exc:
        _fail(f"stopped: {exc}", ExitCode.MACHINE_FAULT)


_verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="show the log lines on the terminal (stderr) as they are written"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coupadl")
def cli() -> None:
    """Download the attachments of Coupa purchase orders with several signed-in browser windows."""


@cli.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path))
@_shared_options
@click.option("--fresh", is_flag=True, default=None, help="ignore saved progress in --out and start over")
@click.option("--quiet", is_flag=True, help="print only the final tables (for scripts)")
@_verbose_option
def run(input_file: Path, quiet: bool, verbose: bool, **flags: Any) -> None:
    """Download the attachments of every PO listed in INPUT (CSV or XLSX)."""
    from coupadl.batch import read_po_list
    from coupadl.cli.runner import BatchRun

    with _one_line_errors():
        settings = _settings(**flags)
        settings.require_base_url()
        po_list = read_po_list(input_file)
        batch = BatchRun(settings, po_list, make_console(quiet), tables=make_console(), verbose=verbose)
        code = batch.execute()
    if batch.failure:
        _fail(batch.failure, code)
    sys.exit(int(code))


@cli.command()
@_shared_options
@_verbose_option
def check(verbose: bool, **flags: Any) -> None:
    """Start the windows exactly as `run` would, verify each, print the report, clean up.

    Exits 0 only if every window verified.
    """
    from coupadl.batch.progress import state_dir
    from coupadl.cli.grid_mode import end_run_sessions, plan_grid, remote_setup
    from coupadl.cli.runner import check_output_folder
    from coupadl.cli.signals import stop_on_signals
    from coupadl.cli.wiring import (
        build_launch,
        build_pool,
        build_profiles,
        build_verification,
        check_base_profile,
    )

    console = make_console()
    try:
        settings = _settings(**flags)
        settings.require_base_url()
        out = settings.out.expanduser().resolve()
        check_output_folder(out)
        grid = plan_grid(settings, out)  # --grid: reachable, stale sessions deleted, windows claimed
        if grid is not None and grid.note:
            console.print(f"[yellow]{grid.note}[/yellow]")
        check_base_profile(settings)  # before any browser is probed
        launch = build_launch(settings)
        verification = build_verification(settings)
        profiles = build_profiles(settings, verification)
    except SetupError as exc:
        _fail(str(exc))
        return
    try:
        remote = remote_setup(settings, grid, launch, profiles, out) if grid is not None else None
    except SetupError as exc:
        profiles.shutdown()
        _fail(str(exc))
        return
    configure_logging(state_dir(out) / "logs" / "check.jsonl", worker="main", echo=verbose)
    try:
        pool = build_pool(
            settings,
            launch,
            verification,
            profiles,
            out,
            None,
            options={},
            log_echo=verbose,
            worker_count=grid.windows if grid is not None else None,
            remote=remote,
        )
        with stop_on_signals(pool.request_stop):
            try:
                reports = pool.start()
            finally:
                pool.close()
                if grid is not None:
                    end_run_sessions(grid, out)
    finally:
        profiles.shutdown()
    console.print(format_window_table(reports))
    verified = [r for r in reports.values() if r.verified]
    console.print(f"{len(verified)} of {len(reports)} windows verified")
    if len(verified) != len(reports):
        missing = len(reports) - len(verified)
        _fail(f"{missing} window(s) not verified: see the report above", ExitCode.NO_WINDOW)
    sys.exit(int(ExitCode.OK))


@cli.command()
@click.option("--profile", help="user-data-dir to sign in [coupadl's own profile]")
@click.option("--profile-name", help="profile folder inside the user-data-dir [Default]")
@click.option("--base-url", help="Coupa host to open")
@click.option("--browser", type=click.Choice([b.value for b in BrowserKind]))
@click.option("--browser-binary", type=click.Path(path_type=Path))
@click.option("--driver", type=click.Path(path_type=Path))
@click.option("--config", type=click.Path(path_type=Path))
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=900.0,
    show_default=True,
    help="seconds to wait for sign-in",
)
@click.option(
    "--save-base-url",
    is_flag=True,
    help="remember --base-url in your per-user config file, so later commands need no --base-url",
)
def login(timeout: float, save_base_url: bool, **flags: Any) -> None:
    """Open a visible window on the base profile so you can sign in (SSO), then save the sign-in."""
    from coupadl.cli.login import sign_in_interactively

    try:
        settings = _settings(**flags, headless=False)
        outcome = sign_in_interactively(settings, timeout=timeout, console=make_console())
    except SetupError as exc:
        _fail(str(exc))
        return
    if outcome.cancelled:
        click.echo(outcome.message, err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    if not outcome.signed_in:
        _fail(outcome.message, ExitCode.NO_WINDOW)
    click.echo(outcome.message)
    _remember_base_url(settings, save_base_url)
    sys.exit(int(ExitCode.OK))


def _remember_base_url(settings: Settings, save: bool) -> None:
    """After a sign-in: write the base URL to the per-user config file when asked (`--save-base-url`), or
    offer it when a person is at the terminal and the address was typed rather than configured."""
    from coupadl.cli.config_view import save_base_url, should_offer_to_save
    from coupadl.config_file import user_config_file

    if settings.base_url is None or not (save or should_offer_to_save(settings)):
        return
    if not save:
        if not sys.stdin.isatty():
            return
        save = click.confirm(
            f"remember {settings.base_url} in {user_config_file()} for later commands?", default=True
        )
    if save:
        path = save_base_url(settings.base_url)
        click.echo(f"saved base_url = {settings.base_url} in {path}")


@cli.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("coupadl-demo"),
    show_default=True,
    help="folder for the demo's profile, PO list and output",
)
@click.option("--workers", type=click.IntRange(MIN_WORKERS, MAX_WORKERS), default=3, show_default=True)
@click.option("--visible", is_flag=True, help="show the windows")
def demo(out: Path, workers: int, visible: bool) -> None:
    """The whole job end to end against the bundled Coupa-like site, with a freshly signed-in profile."""
    from coupadl.cli.extras import require_demo_extra

    try:
        require_demo_extra()
    except SetupError as exc:
        _fail(str(exc))
        return
    from coupadl.cli.demo import run_demo
    from coupadl.cli.runner import check_output_folder

    with _one_line_errors():
        check_output_folder(out.expanduser().resolve())  # before the site or any browser starts
        code = run_demo(out, workers=workers, headless=not visible, console=make_console())
    sys.exit(int(code))


@cli.command()
def clean() -> None:
    """Remove clone folders left behind by runs that died."""
    from coupadl.profiles import default_temp_root, tool_profile_dir
    from coupadl.profiles.sweep import sweep_orphans

    root = default_temp_root()
    report = sweep_orphans(root, protected=[tool_profile_dir()])
    for path in report.removed:
        click.echo(f"removed {path}")
    for path, why in report.skipped:
        click.echo(f"left {path}: {why}")
    click.echo(f"{len(report.removed)} folder(s) removed, {len(report.kept)} in use, under {root}")


@cli.command()
@click.option("--browser", type=click.Choice([b.value for b in BrowserKind]), help="[edge]")
@click.option("--browser-binary", type=click.Path(path_type=Path), help="browser executable")
@click.option("--config", type=click.Path(path_type=Path), help="TOML file with the same keys")
@click.option("--refresh", is_flag=True, help="fetch again even if the cache already has a matching driver")
def driver(refresh: bool, **flags: Any) -> None:
    """Fetch the driver matching the installed browser into coupadl's cache (the only command that
    downloads; through the system proxy; never a browser). Run it again after a browser update."""
    from coupadl.cli.driver_setup import set_up_driver

    try:
        setup = set_up_driver(_settings(**flags), refresh=refresh)
    except SetupError as exc:
        _fail(str(exc))
        return
    click.echo(setup.describe())


@cli.command()
@_shared_options
def doctor(**flags: Any) -> None:
    """Check browser, driver, profile, settings and free disk without opening a window.

    One line per check: its verdict and, when something needs fixing, the fix. Exits 0 when all is well,
    1 when something needs fixing.
    """
    from coupadl.cli.doctor import diagnose, format_check

    checks = diagnose(flags)
    for item in checks:
        click.echo(format_check(item))
    failed = [c.name for c in checks if not c.ok]
    click.echo(f"{len(failed)} thing(s) to fix: {', '.join(failed)}" if failed else "all is well")
    sys.exit(int(ExitCode.SOME_FAILED if failed else ExitCode.OK))


@cli.command("config")
@_shared_options
def config_command(**flags: Any) -> None:
    """Print the settings in effect and where each came from (flag, environment variable, config file
    key, per-user config file or default)."""
    from coupadl.cli.config_view import config_lines, files_lines, load_for_display

    try:
        loaded = load_for_display(flags)
    except SetupError as exc:
        _fail(str(exc))
        return
    for line in [*files_lines(loaded), "", *config_lines(loaded)]:
        click.echo(line)


def main() -> None:
    """Console-script entry point."""
    configure_logging(None)  # nothing on the terminal from structlog; runs log under --out
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "coupadl"
        _fail(f"{exc.format_message()} (see `{command} --help`)")
    except click.ClickException as exc:
        _fail(exc.format_message())
    except MachineFaultError as exc:
        _fail(f"stopped: {exc}", ExitCode.MACHINE_FAULT)
    except CoupadlError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))
    except OSError as exc:  # at the edge (an unreadable path, a folder that cannot be made): one line
        _fail(_os_error_line(exc), _os_error_code(exc))
    finally:
        close_logging()


def _os_error_line(exc: OSError) -> str:
    names = " -> ".join(str(name) for name in (exc.filename, exc.filename2) if name)
    return f"{exc.strerror or exc}{': ' + names if names else ''}"


def _os_error_code(exc: OSError) -> ExitCode:
    import errno

    machine = {errno.ENOSPC, errno.EROFS, errno.EIO, getattr(errno, "EDQUOT", errno.ENOSPC)}
    return ExitCode.MACHINE_FAULT if exc.errno in machine else ExitCode.SETUP
