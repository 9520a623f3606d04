"""The currency scale behind the amount defaults: a row for every currency posterm accepts, each
factor the 1-2-5 step nearest its documented rate, EUR values exactly as before, defaults of
the right size in low-value and high-value currencies, and exact integers everywhere."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.cli import main
from terminal.iso_codes import CURRENCIES, Currency
from terminal.money import Amount
from terminal.settings import load_settings
from terminal.settings.amounts import (
    AMOUNT_KEYS,
    REFERENCE,
    default_amount,
    default_text,
    derivation,
    scaled_minor,
)
from terminal.settings.currency_scale import RATES, SCALE, scale_factor

NO_ENV: dict[str, str] = {}
STEPS = [Fraction(m) * Fraction(10) ** e for e in range(-4, 9) for m in (1, 2, 5)]
UNLISTED = Currency("XTS", "963", 2, "Code reserved for testing")


def nearest_step(rate: Fraction) -> Fraction:
    """The 1-2-5 step nearest `rate` in log scale, compared exactly: `rate` is nearer to `low`
    than to `high` when rate / low < high / rate, that is rate² < low × high."""
    for low, high in pairwise(STEPS):
        if rate < high:
            return low if rate * rate < low * high else high
    raise AssertionError(f"rate {rate} beyond the steps")


def test_every_currency_posterm_accepts_has_exactly_one_row() -> None:
    codes = [row[0] for row in RATES]
    assert len(codes) == len(set(codes))
    assert set(codes) == set(CURRENCIES)
    assert all(scale_factor(code).listed for code in CURRENCIES)


@pytest.mark.parametrize(("code", "factor", "rate", "source"), RATES, ids=[r[0] for r in RATES])
def test_each_factor_is_the_step_nearest_its_documented_rate(
    code: str, factor: str, rate: str, source: str
) -> None:
    assert Fraction(factor) in STEPS
    assert Fraction(factor) == nearest_step(Fraction(rate)), f"{code}: {rate} per EUR"
    assert SCALE[code] == Fraction(factor)
    assert source.strip()


def test_euro_defaults_are_exactly_the_values_shipped_before() -> None:
    eur = CURRENCIES["EUR"]
    before = {
        ("offline", "floor_limit"): 5_000,
        ("offline", "max_total"): 200_000,
        ("risk", "velocity_total"): 10_000,
        ("nfc", "transaction_limit"): 50_000,
        ("nfc", "cvm_limit"): 5_000,
    }
    assert {k: default_amount(*k, eur) for k in AMOUNT_KEYS} == {
        k: Amount(v, eur) for k, v in before.items()
    }
    assert default_text("offline", "floor_limit", eur) == "50.00"


@pytest.mark.parametrize(
    ("code", "lowest", "highest"),
    [
        # EUR 50 at about 175 JPY, 19,200 IDR, 30,500 VND, 0.356 KWD, 1.16 USD per euro, and
        # bounds one order of magnitude wide around that (÷ and × √10).
        ("JPY", "2800", "28000"),
        ("IDR", "300000", "3000000"),
        ("VND", "480000", "4800000"),
        ("KWD", "5.600", "56.000"),
        ("USD", "18.00", "180.00"),
    ],
)
def test_the_floor_limit_is_worth_about_fifty_euros(code: str, lowest: str, highest: str) -> None:
    cur = CURRENCIES[code]
    floor = default_amount("offline", "floor_limit", cur)
    assert Amount.parse(lowest, cur) <= floor <= Amount.parse(highest, cur)
    for section, key in AMOUNT_KEYS:  # every key keeps its ratio to the floor limit
        ratio = Fraction(
            REFERENCE[(section, key)].minor, REFERENCE[("offline", "floor_limit")].minor
        )
        assert default_amount(section, key, cur).minor == floor.minor * ratio


@pytest.mark.parametrize("code", sorted(CURRENCIES))
def test_every_default_is_a_positive_whole_number_of_minor_units_that_reads_back(
    code: str,
) -> None:
    cur = CURRENCIES[code]
    for section, key in AMOUNT_KEYS:
        amount = default_amount(section, key, cur)
        assert type(amount.minor) is int
        assert amount.minor > 0
        assert Amount.parse(default_text(section, key, cur), cur) == amount


@given(
    reference=st.integers(min_value=1, max_value=10**9),
    factor=st.fractions(min_value=Fraction(1, 10**6), max_value=Fraction(10**6)),
    exponent=st.integers(min_value=0, max_value=4),
)
def test_scaling_rounds_down_to_a_whole_minor_unit_and_never_to_zero(
    reference: int, factor: Fraction, exponent: int
) -> None:
    cur = Currency("XTS", "963", exponent, "Code reserved for testing")
    minor = scaled_minor(Amount.of(reference, "EUR"), factor, cur)
    exact = Fraction(reference, 100) * factor * 10**exponent
    assert type(minor) is int
    assert minor == max(1, int(exact // 1))
    assert minor >= 1
    assert minor <= exact or exact < 1


def test_a_currency_without_a_row_gets_factor_one_and_says_so() -> None:
    assert scale_factor(UNLISTED.code) == (Fraction(1), "1", False)
    assert default_amount("offline", "floor_limit", UNLISTED) == Amount(5_000, UNLISTED)
    assert "not in the currency scale table" in derivation("offline", "floor_limit", UNLISTED)


def test_config_show_says_which_amounts_are_derived_from_the_currency(
    write_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(
        '[terminal]\nterminal_id = "SHOP0001"\nmerchant_id = "123456789012345"\n'
        'merchant_name = "Toko Sudut"\nmerchant_city = "Jakarta"\ncurrency = "IDR"\n'
        '[nfc]\ncvm_limit = "750000"\n'
    )
    assert main(["--config", str(path), "config", "show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        'floor_limit = "1000000.00"  # derived from terminal.currency IDR: EUR 50.00 × 20000'
        in lines
    )
    assert 'cvm_limit = "750000"' in lines  # set by the site: no note
    settings = load_settings(path, NO_ENV)
    assert str(settings.amount("nfc", "transaction_limit")) == "IDR 10,000,000.00"
