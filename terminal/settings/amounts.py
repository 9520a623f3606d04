"""Money-valued settings, and the rule that makes their defaults fit every currency.

An amount written as text ("50.00") only means something in one currency: "50.00" is no yen
amount at all, IDR 50.00 is a few cents and KWD 50.000 is more than EUR 150. So posterm ships
these keys unset (`""`) and derives an unset one from `terminal.currency` by one rule:

    default = the euro value in `REFERENCE` × the currency's factor × 10^exponent minor units

The factor is the 1-2-5 step nearest to how many units of the currency one euro buys
(`terminal.settings.currency_scale`, one row per currency): EUR 1, USD 1, KWD 0.5, JPY 200,
IDR 20000. So the floor limit is EUR 50.00, USD 50.00, KWD 25.000, JPY 10,000,
IDR 1,000,000.00. The arithmetic is exact (fractions, never floats); a result that is not a
whole number of minor units is rounded down, to at least 1 minor unit. A currency without a row
gets factor 1. These are starting points of the right size, not anybody's limits: the
acquirer's limits belong in the site file, in the terminal currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType

from terminal.money import Amount, Currency
from terminal.settings.currency_scale import scale_factor

AMOUNT_KEYS: tuple[tuple[str, str], ...] = (
    ("offline", "floor_limit"),
    ("offline", "max_total"),
    ("risk", "velocity_total"),
    ("nfc", "transaction_limit"),
    ("nfc", "cvm_limit"),
)
"""Every money-valued key (section, key): checked once the currency is known."""

REFERENCE: Mapping[tuple[str, str], Amount] = MappingProxyType(
    {
        ("offline", "floor_limit"): Amount.of(5_000, "EUR"),
        ("offline", "max_total"): Amount.of(200_000, "EUR"),
        ("risk", "velocity_total"): Amount.of(10_000, "EUR"),
        ("nfc", "transaction_limit"): Amount.of(50_000, "EUR"),
        ("nfc", "cvm_limit"): Amount.of(5_000, "EUR"),
    }
)
"""The default of each amount key in the reference currency (EUR 50.00 etc.), scaled to the
terminal currency by `default_amount`."""

UNSET = ""
"""An amount key's value when the site leaves it to the rule above."""


def scaled_minor(reference: Amount, factor: Fraction, currency: Currency) -> int:
    """`reference` × `factor` in minor units of `currency`: exact, rounded down, at least 1."""
    exact = (
        Fraction(reference.minor)
        * factor
        * Fraction(10) ** currency.exponent
        / Fraction(10) ** reference.currency.exponent
    )
    # Rounding down errs on the safe side for offline approvals; 0 would refuse every sale.
    return max(1, exact.numerator // exact.denominator)


def default_amount(section: str, key: str, currency: Currency) -> Amount:
    """The derived default of `section.key` in `currency`, by the rule in the module doc."""
    factor = scale_factor(currency.code).factor
    return Amount(scaled_minor(REFERENCE[(section, key)], factor, currency), currency)


def derivation(section: str, key: str, currency: Currency) -> str:
    """Where an unset amount's value comes from, e.g. "derived from terminal.currency KWD:
    EUR 50.00 × 0.5", shown beside it by `posterm config show`."""
    scale = scale_factor(currency.code)
    unlisted = "" if scale.listed else " (not in the currency scale table)"
    reference = REFERENCE[(section, key)]
    return f"derived from terminal.currency {currency.code}: {reference} × {scale.text}{unlisted}"


def setting_amount(section: str, key: str, text: str, currency: Currency) -> Amount:
    """The amount `section.key` stands for: its text read in `currency`, or the derived
    default when unset. Raises `AmountError` (exit code 2) for text that is no amount there."""
    if text.strip() == UNSET:
        return default_amount(section, key, currency)
    return Amount.parse(text, currency)


def default_text(section: str, key: str, currency: Currency) -> str:
    """The derived default as it would be written in a site file, e.g. "50.00" or "10000"."""
    return default_amount(section, key, currency).format_plain()
