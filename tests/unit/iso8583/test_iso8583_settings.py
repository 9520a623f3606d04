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


def test_a_relative_dialect_is_read_from_the_site_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terminal.iso8583.dialect import DIALECT_FOLDER, dialect_path, load_dialect

    site = tmp_path / "site"
    (site / "dialects").mkdir(parents=True)
    published = (DIALECT_FOLDER / "posterm-1987.toml").read_text(encoding="utf-8")
    (site / "dialects" / "mybank.toml").write_text(
        published.replace('name = "posterm-1987"', 'name = "mybank"'), encoding="utf-8"
    )
    config = site / "posterm.toml"
    config.write_text('[iso8583]\ndialect = "dialects/mybank.toml"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory has no dialects/ folder
    settings = load_settings(config, environ={})
    assert settings.iso8583.dialect == str(site / "dialects" / "mybank.toml")
    assert load_dialect(settings.iso8583.dialect).source == str(site / "dialects/mybank.toml")
    assert load_dialect(settings.iso8583.dialect).name == "mybank"
    # A bare name still means a dialect of config/iso8583/, wherever the site file is.
    config.write_text('[iso8583]\ndialect = "posterm-1987"\n', encoding="utf-8")
    bare = load_settings(config, environ={}).iso8583.dialect
    assert bare == "posterm-1987"
    assert dialect_path(bare) == DIALECT_FOLDER / "posterm-1987.toml"
    # An environment override is relative to the working directory, like every path.
    override = load_settings(config, environ={"POSTERM_ISO8583__DIALECT": "x/bank.toml"})
    assert override.iso8583.dialect == str(elsewhere / "x" / "bank.toml")
