"""`--grid` address check: plain http only on loopback unless insecure is allowed; one-line errors."""

from __future__ import annotations

import pytest

from coupadl.errors import ConfigError, SetupError
from coupadl.grid import check_grid_url, is_loopback_host


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:4444", "http://127.0.0.1:4444"),
        ("http://localhost:4444/", "http://localhost:4444"),
        ("http://[::1]:4444/wd/hub/", "http://[::1]:4444/wd/hub"),
        ("HTTPS://Grid.Example.com:443/?x=1#f", "https://grid.example.com:443"),
        ("  https://grid.example.com  ", "https://grid.example.com"),
    ],
)
def test_accepted_addresses_are_normalised(given: str, expected: str) -> None:
    assert check_grid_url(given) == expected


def test_plain_http_off_loopback_is_refused_unless_insecure_is_allowed() -> None:
    with pytest.raises(ConfigError, match="--grid-insecure") as caught:
        check_grid_url("http://grid.example.com:4444")
    assert isinstance(caught.value, SetupError) and "\n" not in str(caught.value)
    assert (
        check_grid_url("http://grid.example.com:4444", allow_insecure=True) == "http://grid.example.com:4444"
    )
    with pytest.raises(ConfigError):
        check_grid_url("http://10.0.0.5:4444")


@pytest.mark.parametrize(
    "bad", ["grid.example.com:4444", "ftp://grid.example.com", "http://", "https://user:pw@grid.example.com"]
)
def test_malformed_addresses_are_refused_in_one_line(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_grid_url(bad)
    assert "\n" not in str(caught.value)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
