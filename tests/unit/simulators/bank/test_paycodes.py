"""The simulated wallets' pay codes and cross-border conversion (pure parts)."""

from __future__ import annotations

import pytest

from simulators.bank.paycodes import RATES, SCHEMES, convert, new_pay_code
from terminal.money import Amount
from terminal.qr.wallet_code import recognise_wallet_code


@pytest.mark.parametrize("scheme", SCHEMES)
def test_issued_codes_have_their_wallets_published_shape(scheme: str) -> None:
    for _ in range(50):
        assert recognise_wallet_code(new_pay_code(scheme)).scheme.value == scheme


def test_conversion_is_exact_decimal_arithmetic() -> None:
    assert convert(Amount.of(1250, "EUR"), "CNY") == (Amount.of(9640, "CNY"), "7.7120")
    # half up at the wallet's minor unit: 0.01 EUR * 7.7120 = 0.07712 CNY -> 0.08
    assert convert(Amount.of(1, "EUR"), "CNY") == (Amount.of(8, "CNY"), "7.7120")
    assert convert(Amount.of(1250, "EUR"), "JPY") is None  # no rate: the wallet refuses


def test_rates_are_decimal_strings() -> None:
    assert all(isinstance(rate, str) and "e" not in rate for rate in RATES.values())
