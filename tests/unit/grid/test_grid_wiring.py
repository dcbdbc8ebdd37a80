"""`--grid` wiring: its settings and limits, the picklable remote setup whose cookies never show, the window
source each `WorkerSpec` gets, the report of a remote window, and the refusals that need no Grid at all."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coupadl.browser.carried import CarriedCookie
from coupadl.browser.discovery import Executables
from coupadl.browser.launcher import LaunchConfig
from coupadl.browser.remote import RemoteConfig
from coupadl.browser.window import RemediationAction, WindowReport
from coupadl.cli.grid_mode import GridPlan, grid_browser_name, plan_grid
from coupadl.errors import ConfigError
from coupadl.pool import PoolConfig, WorkerSpec, default_worker_specs
from coupadl.pool.sources import (
    LocalWindowSource,
    RemoteWindowSetup,
    RemoteWindowSource,
    _steps,
    window_source,
)
from coupadl.profiles.models import (
    MethodResult,
    ProfileType,
    VerificationConfig,
    VerificationMethod,
    VerificationResult,
    VerificationStatus,
)
from coupadl.settings import BrowserKind, Settings, Source, load_config

SECRET = "s3cr3t-sign-in-value"


def _launch() -> LaunchConfig:
    executables = Executables(BrowserKind.CHROMIUM, Path("/bin/true"), Path("/bin/true"))
    return LaunchConfig(executables, headless=True)


def _setup(tmp_path: Path) -> RemoteWindowSetup:
    cookie = CarriedCookie("_coupa_session", SECRET, "acme.coupahost.com", http_only=True)
    return RemoteWindowSetup(
        RemoteConfig("http://127.0.0.1:4444", _launch()), (cookie,), "https://acme.coupahost.com", tmp_path
    )


def _specs(tmp_path: Path, remote: RemoteWindowSetup | None, count: int = 3) -> list[WorkerSpec]:
    return default_worker_specs(
        worker_count=count,
        base_profile=tmp_path / "base",
        profile_name="Default",
        base_first=True,
        launch=_launch(),
        verification=VerificationConfig(auth_check_url="https://acme.coupahost.com/user/home"),
        handler="coupadl.coupa.job:process_po",
        handler_options={},
        state_dir=tmp_path / ".coupadl",
        profile_setup={},
        remote=remote,
    )


# --- settings ----------------------------------------------------------------------------------------------


def test_grid_settings_come_from_flag_environment_and_file_with_their_source(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('grid = "https://grid.example:4444"\ngrid_cookie_domains = ["login.example.com"]\n')
    loaded = load_config({"config": config}, env={}, user_file=tmp_path / "none.toml")
    assert loaded.settings.grid == "https://grid.example:4444"
    assert loaded.settings.grid_cookie_domains == ("login.example.com",)
    assert loaded.settings.grid_insecure is False
    assert loaded.provenance.origin("grid").source is Source.CONFIG_FILE
    assert loaded.provenance.origin("grid_insecure").source is Source.DEFAULT

    env = {"COUPADL_GRID": "http://127.0.0.1:4444", "COUPADL_GRID_COOKIE_DOMAINS": "a.example, b.example"}
    loaded = load_config({"config": config}, env=env, user_file=tmp_path / "none.toml")
    assert loaded.settings.grid == "http://127.0.0.1:4444"
    assert loaded.provenance.origin("grid").name == "COUPADL_GRID"
    assert loaded.settings.grid_cookie_domains == ("a.example", "b.example")

    loaded = load_config(
        {"grid": "http://10.0.0.5:4444", "grid_insecure": True}, env=env, user_file=tmp_path / "none.toml"
    )
    assert loaded.provenance.origin("grid").name == "--grid"
    assert loaded.provenance.origin("grid_insecure").name == "--grid-insecure"


@pytest.mark.parametrize(
    ("flags", "env", "error"),
    [
        ({"workers": 9}, {}, r"^invalid --workers 9: must be between 1 and 8 .*up to 32 with --grid"),
        ({}, {"COUPADL_WORKERS": "12"}, r"^invalid COUPADL_WORKERS='12': must be between 1 and 8"),
        ({"workers": 33, "grid": "http://127.0.0.1:4444"}, {}, r"^invalid --workers 33: .*32"),
        ({"workers": 0, "grid": "http://127.0.0.1:4444"}, {}, r"^invalid --workers 0: "),
    ],
)
def test_workers_up_to_8_locally_and_up_to_32_with_a_grid(
    tmp_path: Path, flags: dict[str, object], env: dict[str, str], error: str
) -> None:
    with pytest.raises(ConfigError, match=error) as info:
        load_config(flags, env=env, user_file=tmp_path / "none.toml")
    assert "\n" not in str(info.value)


def test_32_windows_are_accepted_with_a_grid(tmp_path: Path) -> None:
    flags = {"workers": 32, "grid": "http://127.0.0.1:4444"}
    assert load_config(flags, env={}, user_file=tmp_path / "none.toml").settings.workers == 32
    env = {"COUPADL_GRID": "http://127.0.0.1:4444", "COUPADL_WORKERS": "20"}
    assert load_config({}, env=env, user_file=tmp_path / "none.toml").settings.workers == 20


def test_the_pool_takes_32_remote_windows_but_8_local_ones(tmp_path: Path) -> None:
    verification = VerificationConfig(auth_check_url="https://a/user/home")
    PoolConfig(32, _launch(), verification, "m:f", tmp_path, remote=True)
    PoolConfig(8, _launch(), verification, "m:f", tmp_path)
    with pytest.raises(ValueError, match="between 1 and 8"):
        PoolConfig(9, _launch(), verification, "m:f", tmp_path)
    with pytest.raises(ValueError, match="between 1 and 32"):
        PoolConfig(33, _launch(), verification, "m:f", tmp_path, remote=True)


# --- start-up refusals that need no Grid -------------------------------------------------------------------


def test_no_grid_means_no_plan_and_a_plain_http_grid_off_loopback_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    assert plan_grid(Settings(), tmp_path / "out") is None
    with pytest.raises(ConfigError, match="--grid-insecure"):
        plan_grid(Settings(grid="http://192.0.2.10:4444"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_plan_says_when_the_grid_gives_fewer_windows_than_asked() -> None:
    assert GridPlan("http://127.0.0.1:4444", 4, 4).note == ""
    note = GridPlan("http://127.0.0.1:4444", 2, 6).note
    assert "2 free slot(s)" in note and "running 2 window(s) instead of 6" in note
    assert grid_browser_name(Settings(browser=BrowserKind.EDGE)) == "MicrosoftEdge"
    assert grid_browser_name(Settings(browser=BrowserKind.CHROMIUM)) == "chrome"


# --- the specs and their window sources --------------------------------------------------------------------


def test_remote_specs_carry_the_cookies_through_pickle_but_never_show_them(tmp_path: Path) -> None:
    specs = _specs(tmp_path, _setup(tmp_path), count=3)
    assert [s.profile_type for s in specs] == [ProfileType.REMOTE] * 3
    for spec in specs:
        assert SECRET not in repr(spec) and SECRET not in str(spec)
        assert "<1 hidden>" in repr(spec)
        copy = pickle.loads(pickle.dumps(spec))  # noqa: S301 - the spawn pipe, our own bytes
        assert copy.remote is not None and copy.remote.cookies[0].value == SECRET
        assert isinstance(window_source(copy, None), RemoteWindowSource)


def test_local_specs_are_unchanged_base_then_clones(tmp_path: Path) -> None:
    specs = _specs(tmp_path, None, count=3)
    assert [s.profile_type for s in specs] == [ProfileType.BASE, ProfileType.CLONE, ProfileType.CLONE]
    assert all(s.remote is None for s in specs)
    assert isinstance(window_source(specs[0], None), LocalWindowSource)


# --- the report of a remote window -------------------------------------------------------------------------


def test_a_local_report_keeps_its_keys_and_order_and_a_remote_one_adds_its_session() -> None:
    local = WindowReport(1, ProfileType.BASE, Path("/p")).to_dict()
    assert list(local) == [
        "worker_id",
        "window",
        "profile_type",
        "profile_path",
        "verification",
        "remediations",
        "diagnosis",
        "processed",
        "restarts",
    ]
    facts = {"session_id": "ab" * 16, "node": "http://10.0.0.7:5555", "browser": "chrome"}
    remote = WindowReport(2, ProfileType.REMOTE, Path("/tmp/x"), remote=facts).to_dict()
    assert remote["profile_type"] == "remote"
    assert remote["remote"] == facts
    assert list(remote)[:9] == list(local)


def test_remediation_steps_of_a_remote_window_are_reported_with_what_led_to_each() -> None:
    failures = ["s1: cookie did not take", "s1 again: cookie did not take", "s2: signed out"]
    steps = _steps(["recarry", "new_session", "recarry"], failures, [1.0, 2.0, 0.5], succeeded=True)
    assert [s.action for s in steps] == [
        RemediationAction.RECARRY,
        RemediationAction.NEW_SESSION,
        RemediationAction.RECARRY,
    ]
    assert [s.succeeded for s in steps] == [False, False, True]
    assert [s.detail for s in steps] == ["s1 again: cookie did not take", "s2: signed out", "verified"]
    assert [s.duration_s for s in steps] == [1.0, 2.0, 0.5]
    failed = _steps(["recarry"], failures[:2], [1.0], succeeded=False)
    assert [(s.succeeded, s.detail) for s in failed] == [(False, "s1 again: cookie did not take")]


def test_a_failed_remote_verification_keeps_its_reason_in_the_report() -> None:
    started = datetime.now(UTC)
    failed = MethodResult(VerificationStatus.FAILED, 0.1, "cookie(s) _coupa_session for acme did not take")
    result = VerificationResult(1, {VerificationMethod.CAPABILITY_CHECK: failed}, started, started)
    report = WindowReport(1, ProfileType.REMOTE, Path(), verification=result, diagnosis="did not take")
    data = report.to_dict()
    assert data["verification"]["methods"]["capability"]["detail"].endswith("did not take")
    assert not report.verified
