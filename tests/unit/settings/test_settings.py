"""Configuration loading: precedence, validation sentences, exit code 2 from the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.settings import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[3]
NO_ENV: dict[str, str] = {}


def test_defaults_load_without_a_site_file() -> None:
    settings = load_settings(None, NO_ENV)
    assert settings.terminal.currency == "EUR"
    assert settings.amount("offline", "floor_limit").minor == 5000


def test_site_file_overrides_default(write_config: Callable[[str], Path]) -> None:
    path = write_config(
        '[terminal]\ncurrency = "JPY"\n[offline]\nfloor_limit = "5000"\n'
        'max_total = "100000"\n[risk]\nvelocity_total = "10000"\n'
        '[nfc]\ntransaction_limit = "50000"\ncvm_limit = "10000"\n'
    )
    settings = load_settings(path, NO_ENV)
    assert settings.terminal.currency == "JPY"
    assert settings.amount("offline", "floor_limit").minor == 5000


def test_environment_overrides_site_file(write_config: Callable[[str], Path]) -> None:
    path = write_config('[terminal]\nmerchant_city = "Lisbon"\n')
    env = {"POSTERM_TERMINAL__MERCHANT_CITY": "Porto", "POSTERM_OFFLINE__MAX_COUNT": "7"}
    settings = load_settings(path, env)
    assert settings.terminal.merchant_city == "Porto"
    assert settings.offline.max_count == 7


def test_posterm_config_variable_names_the_site_file(write_config: Callable[[str], Path]) -> None:
    path = write_config('[terminal]\nterminal_id = "ENVFILE1"\n')
    settings = load_settings(None, {"POSTERM_CONFIG": str(path)})
    assert settings.terminal.terminal_id == "ENVFILE1"


def test_explicit_config_beats_posterm_config(write_config: Callable[[str], Path]) -> None:
    explicit = write_config('[terminal]\nterminal_id = "EXPLICIT"\n', "a.toml")
    other = write_config('[terminal]\nterminal_id = "ENVFILE1"\n', "b.toml")
    settings = load_settings(explicit, {"POSTERM_CONFIG": str(other)})
    assert settings.terminal.terminal_id == "EXPLICIT"


def test_relative_data_dir_is_relative_to_the_file(write_config: Callable[[str], Path]) -> None:
    path = write_config('[terminal]\ndata_dir = "state"\n')
    assert load_settings(path, NO_ENV).data_dir == path.parent / "state"


def test_shipped_example_config_is_valid() -> None:
    settings = load_settings(REPO / "config" / "examples" / "posterm.toml", NO_ENV)
    assert settings.terminal.terminal_id == "CAFE0001"


BROKEN = [
    (
        '[terminal]\ncurrency = "EURO"\n',
        'posterm.toml: terminal.currency = "EURO": not an ISO 4217 code (e.g. EUR)',
    ),
    (
        '[terminal]\nterminal_id = "T1"\n',
        'posterm.toml: terminal.terminal_id = "T1": must be exactly 8 letters or digits',
    ),
    (
        '[terminal]\ncountry = "XX"\n',
        'posterm.toml: terminal.country = "XX": not an ISO 3166 alpha-2 country code',
    ),
    ('[terminal]\nmcc = "58"\n', 'posterm.toml: terminal.mcc = "58": must be 4 digits'),
    (
        '[terminal]\nmerchant_name = "' + "A" * 26 + '"\n',
        'terminal.merchant_name = "' + "A" * 26 + '": longer than 25 characters',
    ),
    (
        '[terminal]\nmerchant_city = "Llanfairpwllgwyngyll"\n',
        'terminal.merchant_city = "Llanfairpwllgwyngyll": longer than 15 characters',
    ),
    (
        '[terminal]\ncurency = "EUR"\n',
        'posterm.toml: terminal.curency = "EUR": unknown key (did you mean currency?)',
    ),
    (
        '[termnal]\ncurrency = "EUR"\n',
        "posterm.toml: [termnal]: unknown section (did you mean terminal?)",
    ),
    ('[offline]\nfloor_limit = "50.005"\n', 'posterm.toml: offline.floor_limit = "50.005": '),
    (
        '[offline]\nmax_count = "many"\n',
        'posterm.toml: offline.max_count = "many": must be a whole number',
    ),
    (
        "[offline]\nmax_age_hours = 500\n",
        "posterm.toml: offline.max_age_hours = 500: out of range: must be <= 168",
    ),
    (
        '[offline]\nenabled = "yes please"\n',
        'offline.enabled = "yes please": must be true or false',
    ),
    (
        '[gateway]\nurl = "http://bank.example.com"\n',
        'gateway.url = "http://bank.example.com": plain http is allowed for loopback hosts only',
    ),
    (
        '[gateway]\nurl = "http://127.0.0.1:9000"\n',
        "plain http needs gateway.allow_plain_http_loopback = true",
    ),
    ('[gateway]\nca_file = "missing-ca.pem"\n', ": no such file"),
    (
        '[gateway]\nurl = "https://bank.example.com:8443"\n',
        "posterm.toml: gateway.ca_file",
    ),
    (
        '[gateway]\nsecondary_url = "https://backup.example.com"\n',
        "the gateway backup.example.com is not on this machine: set ca_file to the CA "
        'certificate the bank gave you (PEM), or write ca_file = "system"',
    ),
    (
        '[gateway]\nsigning_key = \'{"kty": "OKP", "crv": "Ed25519", "x": "a", "d": "b"}\'\n',
        "holds a private key",
    ),
    ('[devices]\nnfc = "usb:banana"\n', 'devices.nfc = "usb:banana": not an nfcpy reader path'),
    (
        '[qr]\ndecoder = "magic"\n',
        "qr.decoder = \"magic\": must be one of 'zxing', 'pyzbar' or 'opencv'",
    ),
    ('[ecr]\nenabled = true\ntoken = "short"\n', "the ECR API needs a token of at least 16"),
    ("[terminal\n", "posterm.toml: file: not valid TOML"),
]


def test_system_cas_are_trusted_only_when_written(write_config: Callable[[str], Path]) -> None:
    """ca_file = "system" is a word, not a path next to the file; empty stays fine on loopback."""
    remote = load_settings(
        write_config('[gateway]\nurl = "https://bank.example.com"\nca_file = "system"\n'), NO_ENV
    )
    assert (remote.gateway.ca_file, remote.gateway.ca_bundle) == ("system", None)
    local = load_settings(write_config('[gateway]\nurl = "https://127.0.0.1:8443"\n'), NO_ENV)
    assert (local.gateway.ca_file, local.gateway.ca_bundle) == ("", None)
    assert local.offline.suspend_on_tls_failure is True


@pytest.mark.parametrize(("text", "sentence"), BROKEN)
def test_broken_config_names_file_key_value_and_rule(
    write_config: Callable[[str], Path], text: str, sentence: str
) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, NO_ENV)
    assert sentence in str(caught.value)


@pytest.mark.parametrize(("text", "sentence"), BROKEN)
def test_config_check_prints_the_sentence_and_exits_2(
    write_config: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    text: str,
    sentence: str,
) -> None:
    path = write_config(text)
    assert main(["--config", str(path), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert sentence in err
    assert "Traceback" not in err


def test_every_problem_is_reported_at_once(write_config: Callable[[str], Path]) -> None:
    path = write_config('[terminal]\ncurrency = "EURO"\nmcc = "1"\nbogus = 1\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, NO_ENV)
    assert len(caught.value.problems) >= 2


def test_environment_problem_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"POSTERM_TERMINAL__CURRENCY": "EURO"})
    assert "environment POSTERM_TERMINAL__CURRENCY: terminal.currency" in str(caught.value)


def test_missing_site_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "nope.toml", NO_ENV)


def test_config_show_json_redacts_secrets(
    write_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config('[ecr]\nenabled = true\ntoken = "0123456789abcdef-secret"\n')
    assert main(["--config", str(path), "config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ecr"]["token"] == "<redacted>"
    assert "secret" not in json.dumps(shown)


def test_config_check_passes_on_example(capsys: pytest.CaptureFixture[str]) -> None:
    example = REPO / "config" / "examples" / "posterm.toml"
    assert main(["--config", str(example), "config", "check"]) == 0
    assert "configuration OK" in capsys.readouterr().err


def test_every_field_is_documented() -> None:
    from pydantic import BaseModel

    from terminal.settings import Settings

    for name, field in Settings.model_fields.items():
        if name == "sources":
            continue
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for key, sub in model.model_fields.items():
            assert sub.description, f"{name}.{key} has no docstring"
