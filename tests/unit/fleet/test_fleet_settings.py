"""The `[fleet]` keys: defaults as the issue lists them, the broker address rules (plain MQTT
only to loopback), the password shown redacted and audited redacted, operator keys resolved
beside the file that names them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.security.audit import AuditLog
from terminal.settings import ConfigError, load_settings

NO_ENV: dict[str, str] = {}


def test_defaults_are_the_documented_keys() -> None:
    fleet = load_settings(None, NO_ENV).fleet
    assert fleet.model_dump() == {
        "enabled": False,
        "broker": "mqtts://broker.example:8883",
        "ca_file": "",
        "client_cert": "",
        "username": "",
        "password": "",
        "topic_prefix": "posterm",
        "heartbeat_s": 30,
        "operator_keys": [],
        "max_queued_events": 1000,
    }


@pytest.mark.parametrize(
    "broker", ["mqtt://127.0.0.1:1883", "mqtt://localhost:18830", "mqtts://broker.shop.example"]
)
def test_broker_addresses_accepted(write_config: Callable[[str], Path], broker: str) -> None:
    settings = load_settings(write_config(f'[fleet]\nbroker = "{broker}"\n'), NO_ENV)
    assert settings.fleet.broker == broker


@pytest.mark.parametrize(
    ("broker", "sentence"),
    [
        ("mqtt://broker.shop.example:1883", "plain mqtt:// is allowed only to 127.0.0.1"),
        ("https://broker.shop.example", "not a broker address"),
        ("mqtts://user:pw@broker.shop.example", "user and password go apart"),
        ("mqtts://broker.shop.example:99999", "port that is not a number"),
        ("broker.shop.example", "not a broker address"),
    ],
)
def test_bad_broker_addresses_are_refused_with_the_reason(
    write_config: Callable[[str], Path], broker: str, sentence: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(write_config(f'[fleet]\nbroker = "{broker}"\n'), NO_ENV)
    assert "fleet.broker" in str(refused.value)
    assert sentence in str(refused.value)


@pytest.mark.parametrize("prefix", ["a/+/b", "#", "with space", "", "trailing/"])
def test_topic_prefix_without_wildcards(write_config: Callable[[str], Path], prefix: str) -> None:
    with pytest.raises(ConfigError, match=r"fleet\.topic_prefix"):
        load_settings(write_config(f'[fleet]\ntopic_prefix = "{prefix}"\n'), NO_ENV)


def test_operator_keys_are_resolved_beside_the_site_file(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    settings = load_settings(
        write_config('[fleet]\noperator_keys = ["keys/op.pub.jwk", "/etc/op2.pub.jwk"]\n'),
        NO_ENV,
    )
    assert settings.fleet.operator_keys == [
        str((tmp_path / "keys" / "op.pub.jwk").resolve()),
        "/etc/op2.pub.jwk",
    ]


def test_config_show_redacts_the_broker_password(
    write_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config('[fleet]\nusername = "POS00001"\npassword = "broker-s3cret"\n')
    assert main(["--config", str(path), "config", "show", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["fleet"]["password"] == "<redacted>"
    assert "broker-s3cret" not in out


def test_setting_the_password_is_audited_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "posterm.toml"
    site.write_text(f'[terminal]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    assert main(["--config", str(site), "config", "set", "fleet.password", "broker-s3cret"]) == 0
    assert "broker-s3cret" not in capsys.readouterr().out
    (record,) = AuditLog(tmp_path / "data").records()
    assert record.details["key"] == "fleet.password"
    assert record.details["new"] == "<redacted>"
    assert "broker-s3cret" not in (tmp_path / "data" / "audit.log").read_text()
    assert load_settings(site, NO_ENV).fleet.password == "broker-s3cret"


def test_a_broker_url_with_credentials_is_refused_without_echoing_them(
    write_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config('[fleet]\nbroker = "mqtts://POS00001:hunter2-secret@broker.example:8883"\n')
    assert main(["--config", str(path), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert 'fleet.broker = "mqtts://<redacted>@broker.example:8883"' in err
    assert "user and password go apart" in err
    assert "hunter2-secret" not in err and "POS00001" not in err


def test_a_broker_url_with_credentials_from_the_environment_is_not_echoed(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config("")
    with pytest.raises(ConfigError) as refused:
        load_settings(path, {"POSTERM_FLEET__BROKER": "mqtt://u:env-s3cret@127.0.0.1:1883"})
    assert "env-s3cret" not in str(refused.value)
    assert "mqtt://<redacted>@127.0.0.1:1883" in str(refused.value)


def test_config_set_of_a_broker_url_with_credentials_changes_nothing_and_echoes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "posterm.toml"
    site.write_text(f'[terminal]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    before = site.read_bytes()
    url = "mqtts://POS00001:hunter2-secret@broker.example:8883"
    assert main(["--config", str(site), "config", "set", "fleet.broker", url]) != 0
    captured = capsys.readouterr()
    assert "hunter2-secret" not in captured.out + captured.err
    assert site.read_bytes() == before
    audit = tmp_path / "data" / "audit.log"
    assert not audit.exists() or "hunter2-secret" not in audit.read_text()
