"""The [iso8583] keys: plain TCP only to a loopback host, and a bad setting says what to fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.iso8583.adapter import ConfigurationError, read_mac_key
from terminal.settings import ConfigError, load_settings


def test_defaults_keep_the_posterm_v1_link() -> None:
    settings = load_settings(None, environ={})
    assert settings.gateway.protocol == "posterm-v1"
    assert settings.iso8583.dialect == "posterm-1987"
    assert settings.iso8583.tls is True


def test_plain_tcp_only_to_a_loopback_host(write_config: Callable[[str], Path]) -> None:
    local = write_config('[iso8583]\nhost = "127.0.0.1:5000"\ntls = false\n')
    assert load_settings(local, environ={}).iso8583.tls is False
    remote = write_config('[iso8583]\nhost = "acquirer.example:5000"\ntls = false\n', "r.toml")
    with pytest.raises(ConfigError, match="loopback"):
        load_settings(remote, environ={})


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('host = "acquirer.example"', "host:port"),
        ('acquirer_id = "12AB"', "digits"),
        ('protocol = "iso"', "protocol"),
    ],
)
def test_bad_values_are_named(write_config: Callable[[str], Path], line: str, words: str) -> None:
    section = "gateway" if line.startswith("protocol") else "iso8583"
    path = write_config(f"[{section}]\n{line}\n")
    with pytest.raises(ConfigError, match=words):
        load_settings(path, environ={})


def test_mac_key_file_must_hold_an_aes_key_in_hex(tmp_path: Path) -> None:
    assert read_mac_key("") is None
    good = tmp_path / "mac.key"
    good.write_text("00112233445566778899aabbccddeeff\n")
    assert read_mac_key(str(good)) == bytes.fromhex("00112233445566778899aabbccddeeff")
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(ConfigurationError, match="32 or 64 hex digits"):
        read_mac_key(str(bad))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        read_mac_key(str(tmp_path / "missing.key"))
