"""Small set-up behaviours of the command: the demo extra named when Flask is missing, the offer to
remember the base URL only at a terminal."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import click
import pytest

from coupadl.cli import app
from coupadl.cli.extras import require_demo_extra
from coupadl.errors import SetupError
from coupadl.settings import load_config


def test_demo_names_its_extra_when_flask_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "flask" else real(name, *a)
    )
    with pytest.raises(SetupError) as info:
        require_demo_extra()
    assert 'pip install "coupadl[demo]"' in str(info.value) and "\n" not in str(info.value)


def test_demo_extra_present_here() -> None:
    require_demo_extra()  # the dev set-up installs it: no error


@pytest.fixture
def user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cfg" / "config.toml"
    monkeypatch.setattr("coupadl.settings.user_config_file", lambda: path)
    monkeypatch.setattr("coupadl.config_file.user_config_file", lambda: path)
    monkeypatch.delenv("COUPADL_BASE_URL", raising=False)
    return path


class _Stdin:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "answer", "saved"), [(True, True, True), (True, False, False), (False, True, False)]
)
def test_offer_to_remember_the_base_url_only_at_a_terminal(
    user_file: Path, monkeypatch: pytest.MonkeyPatch, tty: bool, answer: bool, saved: bool
) -> None:
    asked: list[str] = []

    def confirm(text: str, **_: Any) -> bool:
        asked.append(text)
        return answer

    monkeypatch.setattr(app.sys, "stdin", _Stdin(tty))
    monkeypatch.setattr(click, "confirm", confirm)
    settings = load_config({"base_url": "https://acme.coupahost.com"}).settings
    app._remember_base_url(settings, save=False)
    assert bool(asked) is tty
    assert user_file.exists() is saved
    if saved:
        assert load_config({}).settings.base_url == "https://acme.coupahost.com"


def test_no_offer_when_the_address_already_comes_from_the_file(
    user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file.parent.mkdir()
    user_file.write_text('base_url = "https://acme.coupahost.com"\n')
    monkeypatch.setattr(app.sys, "stdin", _Stdin(True))
    monkeypatch.setattr(click, "confirm", lambda *a, **k: pytest.fail("asked again"))
    app._remember_base_url(load_config({}).settings, save=False)
