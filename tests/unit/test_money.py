"""Amount: parsing operator text, arithmetic, formatting and JSON, with round-trip properties."""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from terminal.errors import PostermError
from terminal.iso_codes import CURRENCIES
from terminal.money import (
    DISPLAY_LOCALES,
    Amount,
    AmountError,
    Currency,
    CurrencyMismatch,
    UnknownCurrency,
    currency,
)

EUR = currency("EUR")
USD = currency("USD")
JPY = currency("JPY")
KWD = currency("KWD")
CLF = currency("CLF")
MAX = 10**12 - 1

NOT_A_NUMBER = "; type digits with an optional decimal separator, e.g. 12.34"
GROUPING = ": group thousands in threes, e.g. 1,234,567.89"


def parse_error(text: str, cur: Currency | str = EUR, **options: object) -> str:
    """The sentence an operator sees for this text."""
    with pytest.raises(AmountError) as caught:
        Amount.parse(text, cur, **options)  # type: ignore[arg-type]
    return str(caught.value)


# -- parsing: accepted forms ------------------------------------------------------------


def test_public_names_import_from_money() -> None:
    assert isinstance(EUR, Currency)
    assert Amount.of(1, "EUR").currency is EUR


def test_dot_is_decimal_separator_when_alone() -> None:
    assert Amount.parse("12.34", EUR) == Amount(1234, EUR)


def test_comma_is_decimal_separator_when_alone() -> None:
    assert Amount.parse("12,34", EUR) == Amount(1234, EUR)


@pytest.mark.parametrize("text", ["1,234.50", "1.234,50", "1,234,567.5", "1.234.567,5"])
def test_last_separator_is_decimal_when_both_appear(text: str) -> None:
    expected = 123450 if text.count(",") + text.count(".") == 2 else 123456750
    assert Amount.parse(text, EUR).minor == expected


@pytest.mark.parametrize(
    "text", ["1 234.50", "1\u00a0234.50", "1\u202f234,50", "1\u2009234,50", "1\u2007234.50"]
)
def test_spaces_group_thousands(text: str) -> None:
    assert Amount.parse(text, EUR).minor == 123450


@pytest.mark.parametrize("text", ["1'234.50", "1\u2019234.50", "1'234'567.00"])
def test_apostrophes_group_thousands_as_in_switzerland(text: str) -> None:
    assert Amount.parse(text, "CHF").minor in (123450, 123456700)


@pytest.mark.parametrize("text", ["1.234.567", "1,234,567", "1 234 567"])
def test_repeated_separator_groups_thousands(text: str) -> None:
    assert Amount.parse(text, EUR).minor == 123456700


def test_whole_number_gets_zero_minor_units() -> None:
    assert Amount.parse("1234", EUR).minor == 123400


@pytest.mark.parametrize("text", [" 12.3 ", "\t12.30\n", "\u00a012.3\u00a0"])
def test_surrounding_whitespace_is_ignored(text: str) -> None:
    assert Amount.parse(text, EUR).minor == 1230


def test_fewer_decimals_than_the_currency_are_padded() -> None:
    assert Amount.parse("0.05", EUR).minor == 5
    assert Amount.parse("12.3", EUR).minor == 1230
    assert Amount.parse("1.5", KWD).minor == 1500
    assert Amount.parse("1.5", CLF).minor == 15000


def test_leading_decimal_separator_means_no_whole_units() -> None:
    assert Amount.parse(".5", EUR).minor == 50
    assert Amount.parse(",05", EUR).minor == 5


def test_trailing_decimal_separator_is_accepted() -> None:
    assert Amount.parse("12.", EUR).minor == 1200


def test_leading_zeros_are_accepted() -> None:
    assert Amount.parse("007.50", EUR).minor == 750


def test_single_separator_with_three_digits_is_decimal_in_three_decimal_currency() -> None:
    assert Amount.parse("1,234", KWD).minor == 1234
    assert Amount.parse("1.234", KWD).minor == 1234


@pytest.mark.parametrize("text", ["1,234", "1.234", "1 234", "1'234"])
def test_single_separator_groups_thousands_in_currency_without_minor_unit(text: str) -> None:
    assert Amount.parse(text, JPY).minor == 1234


def test_currency_may_be_given_as_alpha_or_numeric_code() -> None:
    assert Amount.parse("1", "EUR") == Amount.parse("1", "978") == Amount(100, EUR)


def test_unknown_currency_code_is_refused() -> None:
    with pytest.raises(UnknownCurrency):
        Amount.parse("1", "EURO")


@pytest.mark.parametrize("text", ["-12.34", "\u221212.34", "- 12.34"])
def test_minus_sign_makes_a_negative_amount_when_allowed(text: str) -> None:
    assert Amount.parse(text, EUR, allow_negative=True).minor == -1234


def test_plus_sign_is_accepted() -> None:
    assert Amount.parse("+12.34", EUR).minor == 1234


def test_negative_zero_is_zero() -> None:
    assert Amount.parse("-0.00", EUR, allow_negative=True) == Amount(0, EUR)


def test_zero_is_allowed_by_default() -> None:
    assert Amount.parse("0", EUR).is_zero


def test_amount_at_the_maximum_is_accepted() -> None:
    assert Amount.parse("50.00", EUR, max_minor=5000).minor == 5000
    assert Amount.parse("9,999,999,999.99", EUR).minor == MAX


# -- parsing: refused forms, every sentence ---------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\u00a0"])
def test_empty_text_is_refused(text: str) -> None:
    assert parse_error(text) == "no amount entered: type a number, e.g. 12.34"


@pytest.mark.parametrize(
    "text",
    ["abc", "1e6", "12-", "0x10", "\u00bd", "\u0661\u0662", ".", ",", "-", "+", "'", "EUR 12.34"],
)
def test_text_that_is_not_a_number_is_refused(text: str) -> None:
    assert parse_error(text) == f"not a number: {text!r}{NOT_A_NUMBER}"


def test_long_junk_is_cut_short_in_the_message() -> None:
    assert parse_error("x" * 100) == f"not a number: {'x' * 24 + '...'!r}{NOT_A_NUMBER}"


@pytest.mark.parametrize(
    ("text", "symbol"), [("€12.34", "€"), ("12.34 €", "€"), ("$5", "$"), ("£1", "£"), ("¥100", "¥")]
)
def test_currency_symbol_is_refused(text: str, symbol: str) -> None:
    assert (
        parse_error(text)
        == f"leave out the currency symbol {symbol}: type the number only, e.g. 12.34"
    )


@pytest.mark.parametrize("text", ["1,234", "12.345", "12.340", "1.234.567,891"])
def test_too_many_decimals_says_how_many_the_currency_has(text: str) -> None:
    assert parse_error(text) == "too many decimals: EUR has 2 decimal places"


def test_too_many_decimals_in_three_decimal_currency() -> None:
    assert parse_error("1.2345", KWD) == "too many decimals: KWD has 3 decimal places"


def test_too_many_decimals_in_four_decimal_currency() -> None:
    assert parse_error("1.23456", CLF) == "too many decimals: CLF has 4 decimal places"


@pytest.mark.parametrize(
    "text", ["12.5", "12,50", "12.", "1,234.00", "1.2345", "0.123", ".123", "1000.000"]
)
def test_currency_without_minor_unit_refuses_decimals(text: str) -> None:
    assert parse_error(text, JPY) == "too many decimals: JPY has no minor unit"


@pytest.mark.parametrize("text", ["-1", "-0", "\u22125"])
def test_negative_is_refused_unless_allowed(text: str) -> None:
    assert parse_error(text) == "negative amounts are not allowed here"


@pytest.mark.parametrize("text", ["0", "0.00", ".0", "000"])
def test_zero_is_refused_when_not_allowed(text: str) -> None:
    assert parse_error(text, allow_zero=False) == "a zero amount is not allowed here"


def test_too_large_names_the_maximum() -> None:
    assert parse_error("10000000000") == "too large: the maximum is EUR 9,999,999,999.99"
    assert parse_error("50.01", max_minor=5000) == "too large: the maximum is EUR 50.00"
    assert parse_error("1,001", JPY, max_minor=1000) == "too large: the maximum is JPY 1,000"


def test_too_large_negative_names_the_minimum() -> None:
    message = parse_error("-50.01", allow_negative=True, max_minor=5000)
    assert message == "too large: the minimum is EUR -50.00"


def test_thousands_of_digits_are_too_large_not_a_crash() -> None:
    assert parse_error("9" * 5000) == "too large: the maximum is EUR 9,999,999,999.99"
    assert Amount.parse("0" * 5000 + "1", EUR).minor == 100


@pytest.mark.parametrize(
    "text",
    [
        "12 34",
        "1,23,456",  # Indian lakh grouping is not accepted
        "1  234",
        "1 234'567",
        "1234 567",
        "1.234 5",
        "1 234,56 7",
        ",234.50",
        "0,123,456",
        "1'234,567.00",
    ],
)
def test_malformed_grouping_is_refused(text: str) -> None:
    assert parse_error(text) == f"malformed digit grouping in {text!r}{GROUPING}"


@pytest.mark.parametrize(("text", "mark"), [("1,234.5.6", "."), ("1.2,3,4", ",")])
def test_more_than_one_decimal_separator_is_refused(text: str, mark: str) -> None:
    assert parse_error(text) == f"more than one decimal separator {mark!r} in {text!r}"


def test_amount_error_is_a_value_error_and_a_usage_error() -> None:
    with pytest.raises(AmountError) as caught:
        Amount.parse("", EUR)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, PostermError)
    assert caught.value.exit_code == 2
    assert caught.value.sentence == str(caught.value)


# -- floats and other programming errors ------------------------------------------------


def test_float_text_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Amount.parse(12.34, EUR)  # type: ignore[arg-type]


def test_float_minor_units_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="never use float for money"):
        Amount.of(12.5, EUR)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="never use float for money"):
        Amount(1.0, EUR)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, Decimal("1"), "12"])
def test_minor_units_must_be_a_real_int(value: object) -> None:
    with pytest.raises(TypeError):
        Amount.of(value, EUR)  # type: ignore[arg-type]


def test_amount_needs_a_currency_object_or_code() -> None:
    with pytest.raises(TypeError):
        Amount(1, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Amount.of(1, 978)  # type: ignore[arg-type]


def test_max_minor_must_be_a_non_negative_int() -> None:
    with pytest.raises(TypeError):
        Amount.parse("1", EUR, max_minor=1e6)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_minor"):
        Amount.parse("1", EUR, max_minor=-1)


# -- arithmetic and comparison ----------------------------------------------------------


def test_same_currency_amounts_add_and_subtract() -> None:
    assert Amount(150, EUR) + Amount(25, EUR) == Amount(175, EUR)
    assert Amount(150, EUR) - Amount(200, EUR) == Amount(-50, EUR)


def test_adding_different_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        Amount(1, EUR) + Amount(1, USD)
    assert str(caught.value) == "cannot add EUR and USD amounts"


def test_subtracting_different_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        Amount(1, EUR) - Amount(1, USD)
    assert str(caught.value) == "cannot subtract EUR and USD amounts"


@pytest.mark.parametrize("compare", [operator.lt, operator.le, operator.gt, operator.ge])
def test_ordering_different_currencies_is_refused(
    compare: Callable[[Amount, Amount], bool],
) -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        compare(Amount(1, EUR), Amount(1, USD))
    assert str(caught.value) == "cannot compare EUR and USD amounts"
    assert isinstance(caught.value, ValueError)


def test_different_currencies_are_never_equal() -> None:
    assert Amount(0, EUR) != Amount(0, USD)


def test_adding_a_plain_number_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Amount(1, EUR) + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        assert Amount(1, EUR) < 1  # type: ignore[operator]


def test_same_currency_amounts_order_by_value() -> None:
    amounts = [Amount(3, EUR), Amount(-1, EUR), Amount(2, EUR)]
    assert sorted(amounts) == [Amount(-1, EUR), Amount(2, EUR), Amount(3, EUR)]
    assert Amount(2, EUR) <= Amount(2, EUR) < Amount(3, EUR)
    assert Amount(3, EUR) >= Amount(3, EUR) > Amount(2, EUR)


def test_negation_absolute_value_and_flags() -> None:
    refund = -Amount(1234, EUR)
    assert refund == Amount(-1234, EUR)
    assert refund.is_negative and not refund.is_zero
    assert abs(refund) == Amount(1234, EUR)
    assert Amount.zero("EUR").is_zero


def test_amount_is_frozen_and_hashable() -> None:
    amount = Amount(1, EUR)
    with pytest.raises(dataclasses.FrozenInstanceError):
        amount.minor = 2  # type: ignore[misc]
    assert {amount, Amount(1, EUR)} == {amount}


# -- formatting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "plain"),
    [
        (Amount(123450, EUR), "1234.50"),
        (Amount(5, EUR), "0.05"),
        (Amount(0, EUR), "0.00"),
        (Amount(-5, EUR), "-0.05"),
        (Amount(1234, JPY), "1234"),
        (Amount(5, KWD), "0.005"),
        (Amount(1, CLF), "0.0001"),
    ],
)
def test_plain_format_has_a_point_no_grouping_and_every_minor_digit(
    amount: Amount, plain: str
) -> None:
    assert amount.format_plain() == plain


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        ("en", "EUR 1,234,567.89"),
        ("zh", "EUR 1,234,567.89"),
        ("de", "EUR 1.234.567,89"),
        ("fr", "EUR 1\u202f234\u202f567,89"),
        ("de_DE", "EUR 1.234.567,89"),
        ("fr-CH", "EUR 1\u202f234\u202f567,89"),
        ("EN-gb", "EUR 1,234,567.89"),
        ("tlh", "EUR 1,234,567.89"),
        ("", "EUR 1,234,567.89"),
    ],
)
def test_display_format_uses_the_locale_separators(locale: str, shown: str) -> None:
    assert Amount(123456789, EUR).format_display(locale) == shown


def test_display_format_of_small_negative_and_whole_currencies() -> None:
    assert Amount(5, EUR).format_display() == "EUR 0.05"
    assert Amount(-123450, EUR).format_display() == "EUR -1,234.50"
    assert Amount(1234567, JPY).format_display("de") == "JPY 1.234.567"
    assert Amount(1234567, KWD).format_display() == "KWD 1,234.567"


def test_str_is_the_english_display_and_repr_is_code_like() -> None:
    assert str(Amount(123450, EUR)) == "EUR 1,234.50"
    assert repr(Amount(123450, EUR)) == "Amount.of(123450, 'EUR')"


def test_display_locale_table_is_small_and_fixed() -> None:
    assert set(DISPLAY_LOCALES) == {"en", "zh", "de", "fr"}


# -- JSON -------------------------------------------------------------------------------


def test_json_form_is_integer_minor_units_and_code() -> None:
    amount = Amount(123450, EUR)
    assert amount.to_json() == {"value": 123450, "currency": "EUR"}
    assert json.dumps(amount.to_json()) == '{"value": 123450, "currency": "EUR"}'
    assert Amount.from_json(json.loads(json.dumps(amount.to_json()))) == amount


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, "EUR"], 'amount must be an object like {"value": 1234, "currency": "EUR"}, not list'),
        ({"value": 1}, 'amount must have exactly "value" and "currency": missing currency'),
        ({}, 'amount must have exactly "value" and "currency": missing currency, value'),
        (
            {"value": 1, "currency": "EUR", "minor": 1},
            'amount must have exactly "value" and "currency": unexpected minor',
        ),
        (
            {"value": 12.5, "currency": "EUR"},
            "amount value must be an integer of minor units, not float",
        ),
        (
            {"value": True, "currency": "EUR"},
            "amount value must be an integer of minor units, not bool",
        ),
        (
            {"value": "12", "currency": "EUR"},
            "amount value must be an integer of minor units, not str",
        ),
        ({"value": 1, "currency": 978}, "amount currency must be a string, not int"),
        (
            {"value": 1, "currency": "EURO"},
            "amount currency: 'EURO' is not an ISO 4217 code (e.g. EUR)",
        ),
    ],
)
def test_bad_json_is_refused_with_a_sentence(obj: object, message: str) -> None:
    with pytest.raises(AmountError) as caught:
        Amount.from_json(obj)
    assert str(caught.value) == message


# -- properties -------------------------------------------------------------------------

ALL_CURRENCIES = list(CURRENCIES.values())
LOCALES = sorted(DISPLAY_LOCALES)
minor_values = st.integers(min_value=-MAX, max_value=MAX)


def test_properties_cover_every_exponent() -> None:
    assert {c.exponent for c in ALL_CURRENCIES} == {0, 2, 3, 4}


def without_code(amount: Amount, locale: str) -> str:
    shown = amount.format_display(locale)
    prefix = f"{amount.currency.code} "
    assert shown.startswith(prefix)
    return shown.removeprefix(prefix)


@pytest.mark.parametrize("cur", ALL_CURRENCIES, ids=lambda c: c.code)
def test_every_currency_round_trips_typical_values(cur: Currency) -> None:
    for minor in (0, 1, 999, 1000, 1234, 123456789, MAX, -1, -1234567, -MAX):
        amount = Amount(minor, cur)
        assert Amount.parse(amount.format_plain(), cur, allow_negative=True) == amount
        for locale in LOCALES:
            assert Amount.parse(without_code(amount, locale), cur, allow_negative=True) == amount


@given(st.sampled_from(ALL_CURRENCIES), minor_values)
@example(JPY, 1234)
@example(KWD, 1234)
@example(CLF, 12345678)
def test_plain_format_round_trips(cur: Currency, minor: int) -> None:
    amount = Amount(minor, cur)
    assert Amount.parse(amount.format_plain(), cur, allow_negative=True) == amount


@given(st.sampled_from(ALL_CURRENCIES), minor_values, st.sampled_from(LOCALES))
@example(JPY, 1234, "de")
@example(JPY, -1234, "fr")
@example(KWD, 1234, "en")
def test_display_format_without_code_round_trips(cur: Currency, minor: int, locale: str) -> None:
    amount = Amount(minor, cur)
    assert Amount.parse(without_code(amount, locale), cur, allow_negative=True) == amount


@given(
    st.sampled_from(ALL_CURRENCIES),
    st.integers(min_value=0, max_value=10**15),
    st.integers(min_value=0, max_value=4),
)
def test_plain_decimal_text_means_what_decimal_says(cur: Currency, units: int, places: int) -> None:
    text = str(units)
    if places:
        text = f"{text[:-places] or '0'}.{text[-places:].rjust(places, '0')}"
    # Without a minor unit, "1.234" groups thousands (module rule); "0.123" does not.
    grouped = cur.exponent == 0 and places == 3 and 1000 <= units <= 999_999
    if places > cur.exponent and not grouped:
        with pytest.raises(AmountError):
            Amount.parse(text, cur, max_minor=10**20)
        return
    parsed = Amount.parse(text, cur, max_minor=10**20)
    expected = Decimal(units) if grouped else Decimal(text).scaleb(cur.exponent)
    assert Decimal(parsed.minor) == expected


texts = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.,'\u2019 \u00a0\u202f\u2009-+\u2212€e", max_size=24),
    st.from_regex(r"\A[-+]?[0-9]{1,4}([ .,'][0-9]{1,4}){0,4}\Z"),
)


@given(
    texts,
    st.sampled_from(ALL_CURRENCIES),
    st.booleans(),
    st.booleans(),
    st.integers(min_value=0, max_value=10**15),
)
def test_any_text_is_an_amount_or_an_amount_error(
    text: str, cur: Currency, allow_negative: bool, allow_zero: bool, max_minor: int
) -> None:
    try:
        amount = Amount.parse(
            text, cur, allow_negative=allow_negative, allow_zero=allow_zero, max_minor=max_minor
        )
    except AmountError as error:
        assert str(error)
        return
    assert amount.currency is cur
    assert abs(amount.minor) <= max_minor
    assert allow_negative or amount.minor >= 0
    assert allow_zero or amount.minor != 0


@given(minor_values, minor_values, minor_values)
def test_arithmetic_agrees_with_integer_minor_units(a: int, b: int, c: int) -> None:
    x, y, z = Amount(a, EUR), Amount(b, EUR), Amount(c, EUR)
    assert (x + y) + z == x + (y + z)
    assert (x + y) - y == x
    assert (x < y) == (a < b) and (x >= y) == (a >= b)
    assert -x == Amount(-a, EUR) and abs(x) == Amount(abs(a), EUR)


@given(st.sampled_from(ALL_CURRENCIES), minor_values)
def test_json_round_trips(cur: Currency, minor: int) -> None:
    amount = Amount(minor, cur)
    assert Amount.from_json(json.loads(json.dumps(amount.to_json()))) == amount
