"""Money-valued settings, and the rule that makes their defaults valid in every currency.

An amount written as text ("50.00") only means something in one currency: "50.00" is no yen
amount at all, and 50 dinars is a lot more than 50 euros. So posterm ships these keys unset
(`""`) and derives an unset one from `terminal.currency` by one rule:

    the default is a fixed count of the currency's minor units (`DEFAULT_MINOR` below).

A site file that sets only `currency` is therefore valid for every ISO 4217 currency, and the
defaults follow the currency's scale: 5000 minor units is EUR 50.00, JPY 5,000, KWD 5.000.
Currencies without minor units (JPY, KRW, VND, CLP, ...) are worth little per unit, and the
three-decimal dinars are worth a lot, so the rule errs low where a currency is worth more:
the safe side for offline approvals. The real limits are the acquirer's; write them in the
site file in the terminal currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from terminal.money import Amount, Currency

AMOUNT_KEYS: tuple[tuple[str, str], ...] = (
    ("offline", "floor_limit"),
    ("offline", "max_total"),
    ("risk", "velocity_total"),
    ("nfc", "transaction_limit"),
    ("nfc", "cvm_limit"),
)
"""Every money-valued key (section, key): checked once the currency is known."""

DEFAULT_MINOR: Mapping[tuple[str, str], int] = MappingProxyType(
    {
        ("offline", "floor_limit"): 5_000,
        ("offline", "max_total"): 200_000,
        ("risk", "velocity_total"): 10_000,
        ("nfc", "transaction_limit"): 50_000,
        ("nfc", "cvm_limit"): 5_000,
    }
)
"""The default of each amount key in minor units of the terminal currency (EUR 50.00 etc.)."""

UNSET = ""
"""An amount key's value when the site leaves it to the rule above."""


def setting_amount(section: str, key: str, text: str, currency: Currency) -> Amount:
    """The amount `section.key` stands for: its text read in `currency`, or the derived
    default when unset. Raises `AmountError` (exit code 2) for text that is no amount there."""
    if text.strip() == UNSET:
        return Amount(DEFAULT_MINOR[(section, key)], currency)
    return Amount.parse(text, currency)


def default_text(section: str, key: str, currency: Currency) -> str:
    """The derived default as it would be written in a site file, e.g. "50.00" or "5000"."""
    return Amount(DEFAULT_MINOR[(section, key)], currency).format_plain()
