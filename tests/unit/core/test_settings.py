"""Settings: flag > environment > --config file > per-user file > default, provenance, one-line errors."""

from pathlib import Path

import pytest

from coupadl.config_file import save_setting
from coupadl.errors import ConfigError
from coupadl.settings import BrowserKind, ProfilePolicy, Settings, Source, load_config, load_settings


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


# --- provenance, the per-user file, and errors that name their real source ---------------------------------


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No COUPADL_* variable, and a per-user config file location under tmp_path (absent until written)."""
    import os

    for key in list(os.environ):
        if key.startswith("COUPADL_"):
            monkeypatch.delenv(key)
    user_file = tmp_path / "user" / "config.toml"
    monkeypatch.setattr("coupadl.settings.user_config_file", lambda: user_file)
    return user_file


def test_precedence_flag_env_config_user_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_file = _clean_env(monkeypatch, tmp_path)
    user_file.parent.mkdir()
    user_file.write_text(
        'base_url = "https://user.coupahost.com"\nworkers = 2\nbrowser = "chrome"\nprofile_name = "P1"\n'
    )
    config = tmp_path / "c.toml"
    config.write_text('workers = 4\nbrowser = "chromium"\nout = "from-file"\n')
    monkeypatch.setenv("COUPADL_WORKERS", "5")
    monkeypatch.setenv("COUPADL_OUT", "from-env")

    loaded = load_config({"config": config, "out": Path("from-flag")})

    s, origin = loaded.settings, loaded.provenance.origin
    assert (s.out, origin("out").source, origin("out").name) == (Path("from-flag"), Source.FLAG, "--out")
    assert (s.workers, origin("workers").name) == (5, "COUPADL_WORKERS")
    assert s.browser is BrowserKind.CHROMIUM and origin("browser").source is Source.CONFIG_FILE
    assert origin("browser").file == config and str(config) in origin("browser").name
    assert s.base_url == "https://user.coupahost.com" and origin("base_url").source is Source.USER_FILE
    assert s.profile_name == "P1" and origin("profile_name").file == user_file
    assert origin("headless").source is Source.DEFAULT and s.headless is True
    assert loaded.provenance.files == (user_file, config)
    # Provenance travels with the settings themselves.
    assert s.provenance.origin("workers").source is Source.ENVIRONMENT


def test_settings_built_directly_have_default_provenance() -> None:
    assert Settings(workers=2).provenance.origin("workers").source is Source.DEFAULT


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("env", "COUPADL_WORKERS='nine'"),
        ("config", "workers = 'nine' in "),
        ("user", "workers = 'nine' in "),
    ],
)
def test_a_bad_value_names_its_real_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, expected: str
) -> None:
    user_file = _clean_env(monkeypatch, tmp_path)
    flags: dict[str, object] = {}
    if where == "env":
        monkeypatch.setenv("COUPADL_WORKERS", "nine")
    elif where == "config":
        config = tmp_path / "c.toml"
        config.write_text('workers = "nine"\n')
        flags["config"] = config
    else:
        user_file.parent.mkdir()
        user_file.write_text('workers = "nine"\n')
    with pytest.raises(ConfigError) as info:
        load_config(flags)
    message = str(info.value)
    assert expected in message and "\n" not in message
    assert "--workers" not in message  # nobody typed that flag
    if where != "env":
        assert str(user_file if where == "user" else tmp_path / "c.toml") in message


def test_an_out_of_range_environment_value_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("COUPADL_WORKERS", "12")
    with pytest.raises(ConfigError, match=r"^invalid COUPADL_WORKERS='12': .*8"):
        load_config({})


@pytest.mark.parametrize(
    ("typo", "meant"), [("wokers", "workers"), ("base-url", "base_url"), ("brwser", "browser")]
)
def test_unknown_key_gets_a_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typo: str, meant: str
) -> None:
    _clean_env(monkeypatch, tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(f"{typo} = 2\n")
    with pytest.raises(ConfigError) as info:
        load_config({"config": config})
    assert f"unknown key {typo!r} in {config} (did you mean {meant!r}?)" == str(info.value)


def test_unknown_key_far_from_any_lists_the_known_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch, tmp_path)
    config = tmp_path / "c.toml"
    config.write_text("zzzzzz = 1\n")
    with pytest.raises(ConfigError, match=r"known keys: .*workers"):
        load_config({"config": config})


def test_config_from_the_environment_is_named_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("COUPADL_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"^COUPADL_CONFIG: config file not found"):
        load_config({})


def test_invalid_toml_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch, tmp_path)
    config = tmp_path / "c.toml"
    config.write_text("workers = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config({"config": config})
    assert "\n" not in str(info.value)


def test_saving_the_base_url_keeps_other_keys_and_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file = _clean_env(monkeypatch, tmp_path)
    save_setting(user_file, "base_url", "https://acme.coupahost.com")  # creates the folder and the file
    assert load_config({}).settings.base_url == "https://acme.coupahost.com"
    user_file.write_text('# mine\nworkers = 2\nbase_url = "https://old.coupahost.com"  # work\n# end\n')
    save_setting(user_file, "base_url", "https://new.coupahost.com")
    text = user_file.read_text()
    assert text == '# mine\nworkers = 2\nbase_url = "https://new.coupahost.com"\n# end\n'
    assert load_config({}).settings.workers == 2
    table = tmp_path / "t.toml"
    table.write_text("[coupadl]\nworkers = 2\n")
    save_setting(table, "base_url", "https://t.coupahost.com")
    assert load_config({"config": table}).settings.base_url == "https://t.coupahost.com"


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
