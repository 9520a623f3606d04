"""Amount-valued settings in every currency: a site file that sets only the currency works, the
defaults follow the currency's scale, and a bad amount names the file that can fix it."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.iso_codes import CURRENCIES
from terminal.settings import DEFAULT_FILE, ConfigError, load_settings
from terminal.settings.amounts import AMOUNT_KEYS, default_amount

REPO = Path(__file__).resolve().parents[3]
NO_ENV: dict[str, str] = {}
MERCHANT = (
    '[terminal]\nterminal_id = "SHOP0001"\nmerchant_id = "123456789012345"\n'
    'merchant_name = "Corner Shop"\nmerchant_city = "Anywhere"\n'
)


def only_currency(code: str) -> str:
    return MERCHANT + f'currency = "{code}"\n'


def test_the_table_holds_the_165_active_iso_4217_currencies() -> None:
    assert len(CURRENCIES) == 165
    assert {c.exponent for c in CURRENCIES.values()} == {0, 2, 3, 4}


@pytest.mark.parametrize("code", sorted(CURRENCIES))
def test_config_check_passes_when_the_site_sets_only_the_currency(
    code: str, write_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(only_currency(code))
    assert main(["--config", str(path), "config", "check"]) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert "configuration OK" in err
    effective = tomllib.loads(out)
    settings = load_settings(path, NO_ENV)
    for section, key in AMOUNT_KEYS:
        amount = settings.amount(section, key)
        assert amount == default_amount(section, key, settings.currency)
        assert amount.currency.code == code
        assert effective[section][key] == amount.format_plain()
        assert f"derived from terminal.currency {code}" in out


def test_shipped_defaults_hold_no_amount_text() -> None:
    """A written amount belongs to one currency; the shipped file must fit all of them."""
    shipped = tomllib.loads(DEFAULT_FILE.read_text("utf-8"))
    for section, key in AMOUNT_KEYS:
        assert shipped[section][key] == "", f"{section}.{key}"


@pytest.mark.parametrize(
    ("code", "floor", "transaction", "total"),
    [
        ("EUR", "EUR 50.00", "EUR 500.00", "EUR 2,000.00"),
        ("USD", "USD 50.00", "USD 500.00", "USD 2,000.00"),
        ("JPY", "JPY 10,000", "JPY 100,000", "JPY 400,000"),
        ("IDR", "IDR 1,000,000.00", "IDR 10,000,000.00", "IDR 40,000,000.00"),
        ("VND", "VND 1,000,000", "VND 10,000,000", "VND 40,000,000"),
        ("KWD", "KWD 25.000", "KWD 250.000", "KWD 1,000.000"),
        ("CLF", "CLF 1.0000", "CLF 10.0000", "CLF 40.0000"),
    ],
)
def test_derived_defaults_are_the_euro_values_scaled_to_the_currency(
    code: str, floor: str, transaction: str, total: str, write_config: Callable[[str], Path]
) -> None:
    settings = load_settings(write_config(only_currency(code)), NO_ENV)
    assert str(settings.amount("offline", "floor_limit")) == floor
    assert str(settings.amount("nfc", "transaction_limit")) == transaction
    assert str(settings.amount("offline", "max_total")) == total


def test_site_amounts_are_read_in_the_site_currency(write_config: Callable[[str], Path]) -> None:
    path = write_config(
        only_currency("KWD") + '[offline]\nfloor_limit = "20.500"\n[nfc]\ncvm_limit = "25"\n'
    )
    settings = load_settings(path, NO_ENV)
    assert settings.amount("offline", "floor_limit").minor == 20_500
    assert settings.amount("nfc", "cvm_limit").minor == 25_000


@pytest.mark.parametrize(
    ("code", "value", "reason"),
    [
        ("JPY", "50.00", "too many decimals: JPY has no minor unit"),
        ("EUR", "50.005", "too many decimals: EUR has 2 decimal places"),
        ("KWD", "1.2505", "too many decimals: KWD has 3 decimal places"),
    ],
)
def test_too_many_decimals_names_the_site_file_and_key_and_exits_2(
    code: str,
    value: str,
    reason: str,
    write_config: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config(only_currency(code) + f'[offline]\nfloor_limit = "{value}"\n', "site.toml")
    assert main(["--config", str(path), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert f'site.toml: offline.floor_limit = "{value}": {reason}' in err
    assert f"amounts are in {code}, the terminal.currency set in site.toml" in err
    assert "default.toml" not in err
    assert "Traceback" not in err


def test_an_amount_from_the_environment_names_the_variable() -> None:
    env = {"POSTERM_TERMINAL__CURRENCY": "JPY", "POSTERM_NFC__CVM_LIMIT": '"99.5"'}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env)
    text = str(caught.value)
    assert 'environment POSTERM_NFC__CVM_LIMIT: nfc.cvm_limit = "99.5": too many decimals' in text
    assert "default.toml" not in text
    assert len(caught.value.problems) == 1


def test_a_non_amount_is_refused_with_the_key(write_config: Callable[[str], Path]) -> None:
    path = write_config(only_currency("JPY") + '[risk]\nvelocity_total = "lots"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, NO_ENV)
    assert 'posterm.toml: risk.velocity_total = "lots": not a number' in str(caught.value)


def test_an_amount_error_never_points_at_the_shipped_file(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    """Even a shipped file that carried an amount text would not be named as the fix."""
    shipped = tmp_path / "default.toml"
    shipped.write_text('[offline]\nfloor_limit = "50.00"\n', encoding="utf-8")
    site = write_config(only_currency("JPY"), "shop.toml")
    with pytest.raises(ConfigError) as caught:
        load_settings(site, NO_ENV, default_file=shipped)
    assert str(caught.value).startswith("shop.toml: offline.floor_limit")


def test_config_show_json_gives_the_derived_amounts(
    write_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(only_currency("JPY"))
    assert main(["--config", str(path), "config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["offline"]["floor_limit"] == "10000"
    assert shown["nfc"]["cvm_limit"] == "10000"
    assert shown["nfc"]["transaction_limit"] == "100000"


def test_config_diff_does_not_count_a_derived_amount_as_a_change(
    write_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(only_currency("JPY"))
    assert main(["--config", str(path), "config", "diff", "--json"]) == 0
    keys = {(d["section"], d["key"]) for d in json.loads(capsys.readouterr().out)["differences"]}
    assert ("terminal", "currency") in keys
    assert not keys & set(AMOUNT_KEYS)


def test_posterm_config_check_as_a_command_for_a_tokyo_shop(tmp_path: Path) -> None:
    """The issue's report, as a shop runs it: the real command in its own process."""
    site = tmp_path / "posterm.toml"
    site.write_text(only_currency("JPY"), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "terminal", "--config", str(site), "config", "check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr
    assert "configuration OK" in run.stderr
    assert 'floor_limit = "10000"  # derived from terminal.currency JPY' in run.stdout


def test_config_set_currency_alone_is_enough_to_change_currency(tmp_path: Path) -> None:
    site = tmp_path / "posterm.toml"
    site.write_text(MERCHANT + f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    assert main(["--config", str(site), "config", "set", "terminal.currency", "JPY"]) == 0
    assert str(load_settings(site, NO_ENV).amount("nfc", "cvm_limit")) == "JPY 10,000"


def test_config_set_refuses_an_amount_the_currency_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "posterm.toml"
    site.write_text(only_currency("JPY") + f'data_dir = "{tmp_path / "data"}"\n', "utf-8")
    before = site.read_bytes()
    assert main(["--config", str(site), "config", "set", "offline.floor_limit", "50.00"]) == 2
    err = capsys.readouterr().err
    assert 'posterm.toml: offline.floor_limit = "50.00": too many decimals' in err
    assert site.read_bytes() == before


def test_changing_the_currency_under_written_amounts_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """EUR amounts left in the file when the shop switches to JPY: each is named, nothing is
    written."""
    site = tmp_path / "posterm.toml"
    text = MERCHANT + f'data_dir = "{tmp_path / "data"}"\n[nfc]\ncvm_limit = "45.50"\n'
    site.write_text(text, encoding="utf-8")
    assert main(["--config", str(site), "config", "set", "terminal.currency", "JPY"]) == 2
    err = capsys.readouterr().err
    assert 'posterm.toml: nfc.cvm_limit = "45.50": too many decimals: JPY has no minor unit' in err
    assert site.read_text(encoding="utf-8") == text
