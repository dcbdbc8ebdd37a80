"""Settings: flag > environment > config file > default, and one-line errors."""

from pathlib import Path

import pytest

from coupadl.errors import ConfigError
from coupadl.settings import BrowserKind, ProfilePolicy, load_settings


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("COUPADL_WORKERS", "COUPADL_BROWSER", "COUPADL_CONFIG", "COUPADL_OUT", "COUPADL_HEADLESS"):
        monkeypatch.delenv(key, raising=False)
    settings = load_settings({})
    assert settings.workers == 3
    assert settings.browser is BrowserKind.EDGE
    assert settings.profile_policy is ProfilePolicy.BASE_FIRST
    assert settings.headless is True
    assert settings.out == Path("coupadl-output")


def test_flag_beats_environment_beats_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text('workers = 2\nbrowser = "chrome"\nbase_url = "https://a.coupahost.com"\n')
    monkeypatch.setenv("COUPADL_WORKERS", "5")
    settings = load_settings({"config": config})
    assert settings.workers == 5  # environment over file
    assert settings.browser is BrowserKind.CHROME  # file over default
    assert load_settings({"config": config, "workers": 7}).workers == 7  # flag over environment


@pytest.mark.parametrize("workers", [0, 9])
def test_workers_outside_1_to_8_is_one_clear_line(workers: int) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"workers": workers})
    assert "--workers" in str(info.value) and "\n" not in str(info.value)


def test_unknown_config_key_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("wokers = 2\n")
    with pytest.raises(ConfigError, match="unknown key 'wokers'"):
        load_settings({"config": config})


def test_bad_url_and_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--base-url"):
        load_settings({"base_url": "acme.coupahost.com"})
    with pytest.raises(ConfigError, match="not found"):
        load_settings({"config": tmp_path / "missing.toml"})


def test_missing_base_url_names_the_ways_to_give_it() -> None:
    with pytest.raises(ConfigError, match="COUPADL_BASE_URL"):
        load_settings({}).require_base_url()


@pytest.mark.parametrize(
    "url",
    ["https://x/user/home", "https://acme.coupahost.com/order_headers", "https://a.b?x=1", "https://a.b#f"],
)
def test_base_url_must_be_the_host_alone(url: str) -> None:
    with pytest.raises(ConfigError, match=r"--base-url .* must be the Coupa host alone"):
        load_settings({"base_url": url})


def test_base_url_keeps_a_port_and_drops_a_trailing_slash() -> None:
    assert load_settings({"base_url": "http://127.0.0.1:8080/"}).base_url == "http://127.0.0.1:8080"


def test_run_time_settings_have_defaults_and_bounds() -> None:
    settings = load_settings({})
    assert (settings.results_interval, settings.min_free_space_mb) == (30.0, 16.0)
    with pytest.raises(ConfigError, match="results-interval"):
        load_settings({"results_interval": 0})
    with pytest.raises(ConfigError, match="min-free-space-mb"):
        load_settings({"min_free_space_mb": -1})
