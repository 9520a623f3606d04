"""ISO 4217 / ISO 3166-1 tables: exponents, numeric codes and lookup errors."""

from __future__ import annotations

import dataclasses

import pytest

from terminal.errors import PostermError
from terminal.iso_codes import (
    COUNTRIES,
    COUNTRIES_BY_NUMERIC,
    CURRENCIES,
    CURRENCIES_BY_NUMERIC,
    Country,
    Currency,
    UnknownCountry,
    UnknownCurrency,
    country,
    currency,
)

# UYI (Uruguayan indexed unit) is a fund code with no minor digits.
EXPONENT_0 = set("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split())
EXPONENT_3 = set("BHD IQD JOD KWD LYD OMR TND".split())
EXPONENT_4 = {"CLF", "UYW"}


# -- currency table ---------------------------------------------------------------------


def test_currency_codes_are_three_upper_letters_with_three_digit_numeric() -> None:
    for code, cur in CURRENCIES.items():
        assert cur.code == code
        assert len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()
        assert len(cur.numeric) == 3 and cur.numeric.isascii() and cur.numeric.isdigit()
        assert cur.name and cur.name == cur.name.strip()


def test_table_covers_all_active_currencies() -> None:
    assert len(CURRENCIES) >= 160


def test_numeric_currency_codes_are_unique() -> None:
    assert len(CURRENCIES_BY_NUMERIC) == len(CURRENCIES)
    for numeric, cur in CURRENCIES_BY_NUMERIC.items():
        assert cur.numeric == numeric


def test_currencies_without_minor_unit_are_exactly_the_iso_list() -> None:
    assert {c.code for c in CURRENCIES.values() if c.exponent == 0} == EXPONENT_0


def test_three_decimal_currencies_are_exactly_the_iso_list() -> None:
    assert {c.code for c in CURRENCIES.values() if c.exponent == 3} == EXPONENT_3


def test_four_decimal_currencies_are_exactly_the_iso_list() -> None:
    assert {c.code for c in CURRENCIES.values() if c.exponent == 4} == EXPONENT_4


def test_every_other_currency_has_two_decimals() -> None:
    others = set(CURRENCIES) - EXPONENT_0 - EXPONENT_3 - EXPONENT_4
    assert {CURRENCIES[code].exponent for code in others} == {2}


@pytest.mark.parametrize(
    ("code", "numeric", "exponent"),
    [
        ("EUR", "978", 2),
        ("USD", "840", 2),
        ("GBP", "826", 2),
        ("JPY", "392", 0),
        ("BHD", "048", 3),
        ("CHF", "756", 2),
        ("CNY", "156", 2),
        ("BRL", "986", 2),
        ("INR", "356", 2),
        ("KWD", "414", 3),
        ("SEK", "752", 2),
        ("AUD", "036", 2),
        ("CAD", "124", 2),
        ("DKK", "208", 2),
        ("NOK", "578", 2),
        ("PLN", "985", 2),
        ("KRW", "410", 0),
        ("MXN", "484", 2),
        ("ZAR", "710", 2),
        ("TRY", "949", 2),
        ("HKD", "344", 2),
        ("SGD", "702", 2),
        ("CLF", "990", 4),
        ("ALL", "008", 2),
    ],
)
def test_well_known_currency_has_its_iso_numeric_code(
    code: str, numeric: str, exponent: int
) -> None:
    cur = CURRENCIES[code]
    assert (cur.numeric, cur.exponent) == (numeric, exponent)


@pytest.mark.parametrize("code", ["XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XTS", "XXX"])
def test_codes_without_minor_unit_are_left_out(code: str) -> None:
    assert code not in CURRENCIES


@pytest.mark.parametrize("code", ["HRK", "SLL", "VEF", "LTL", "ZWL", "DEM"])
def test_withdrawn_currencies_are_absent(code: str) -> None:
    assert code not in CURRENCIES


def test_currency_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        CURRENCIES["ABC"] = Currency("ABC", "000", 2, "Nothing")  # type: ignore[index]


def test_currency_is_frozen_and_shows_its_code() -> None:
    eur = CURRENCIES["EUR"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        eur.exponent = 3  # type: ignore[misc]
    assert str(eur) == "EUR"
    assert eur.name == "Euro"


# -- currency lookup --------------------------------------------------------------------


def test_currency_lookup_by_alpha_code() -> None:
    assert currency("EUR") is CURRENCIES["EUR"]


def test_currency_lookup_by_numeric_code() -> None:
    assert currency("978").code == "EUR"
    assert currency("392").code == "JPY"


def test_numeric_currency_code_keeps_leading_zero() -> None:
    assert currency("048").code == "BHD"
    with pytest.raises(UnknownCurrency) as caught:
        currency("48")
    assert str(caught.value) == "'48' is not an ISO 4217 code (e.g. EUR)"


def test_unknown_currency_names_an_example() -> None:
    with pytest.raises(UnknownCurrency) as caught:
        currency("EURO")
    assert str(caught.value) == "'EURO' is not an ISO 4217 code (e.g. EUR)"


def test_unknown_numeric_currency_names_an_example() -> None:
    with pytest.raises(UnknownCurrency) as caught:
        currency("000")
    assert str(caught.value) == "'000' is not an ISO 4217 code (e.g. EUR)"


def test_lower_case_currency_code_is_refused_with_the_upper_case_hint() -> None:
    with pytest.raises(UnknownCurrency) as caught:
        currency("eur")
    assert (
        str(caught.value) == "'eur' is not an ISO 4217 code (e.g. EUR); codes are upper case: EUR"
    )


def test_surrounding_whitespace_is_not_a_currency_code() -> None:
    with pytest.raises(UnknownCurrency) as caught:
        currency(" EUR")
    assert str(caught.value) == "' EUR' is not an ISO 4217 code (e.g. EUR)"


@pytest.mark.parametrize("code", ["XAU", "959"])
def test_currency_without_minor_unit_says_why_it_is_refused(code: str) -> None:
    with pytest.raises(UnknownCurrency) as caught:
        currency(code)
    assert str(caught.value) == (
        f"{code!r} has no minor unit in ISO 4217 and cannot be used for amounts"
    )


def test_long_unknown_currency_text_is_cut_short_in_the_message() -> None:
    with pytest.raises(UnknownCurrency) as caught:
        currency("X" * 500)
    assert str(caught.value) == f"{'X' * 20 + '...'!r} is not an ISO 4217 code (e.g. EUR)"


def test_unknown_currency_is_a_value_error_and_a_configuration_error() -> None:
    with pytest.raises(UnknownCurrency) as caught:
        currency("ZZZ")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, PostermError)
    assert caught.value.exit_code == 2
    assert caught.value.sentence == str(caught.value)


def test_currency_lookup_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        currency(978)  # type: ignore[arg-type]


# -- country table ----------------------------------------------------------------------


def test_country_table_has_every_iso_3166_entry() -> None:
    assert len(COUNTRIES) == 249


def test_country_codes_are_two_upper_letters_with_three_digit_numeric() -> None:
    for alpha2, entry in COUNTRIES.items():
        assert entry.alpha2 == alpha2
        assert len(alpha2) == 2 and alpha2.isascii() and alpha2.isalpha() and alpha2.isupper()
        assert len(entry.numeric) == 3 and entry.numeric.isascii() and entry.numeric.isdigit()
        assert entry.name and entry.name == entry.name.strip()


def test_numeric_country_codes_are_unique() -> None:
    assert len(COUNTRIES_BY_NUMERIC) == len(COUNTRIES)


@pytest.mark.parametrize(
    ("alpha2", "numeric", "name"),
    [
        ("DE", "276", "Germany"),
        ("FR", "250", "France"),
        ("GB", "826", "United Kingdom"),
        ("US", "840", "United States"),
        ("CN", "156", "China"),
        ("BR", "076", "Brazil"),
        ("JP", "392", "Japan"),
        ("IN", "356", "India"),
        ("CH", "756", "Switzerland"),
        ("AT", "040", "Austria"),
        ("NL", "528", "Netherlands"),
        ("IT", "380", "Italy"),
        ("ES", "724", "Spain"),
        ("SE", "752", "Sweden"),
        ("PL", "616", "Poland"),
        ("CA", "124", "Canada"),
        ("AU", "036", "Australia"),
        ("MX", "484", "Mexico"),
        ("KR", "410", "Korea, Republic of"),
        ("ZA", "710", "South Africa"),
        ("AF", "004", "Afghanistan"),
        ("BH", "048", "Bahrain"),
    ],
)
def test_well_known_country_has_its_iso_numeric_code(alpha2: str, numeric: str, name: str) -> None:
    assert COUNTRIES[alpha2] == Country(alpha2, numeric, name)


def test_country_lookup_by_alpha2() -> None:
    assert country("DE") is COUNTRIES["DE"]


def test_country_lookup_by_numeric_code() -> None:
    assert country("276").alpha2 == "DE"
    assert country("076").alpha2 == "BR"


def test_unknown_country_names_an_example() -> None:
    with pytest.raises(UnknownCountry) as caught:
        country("XX")
    assert str(caught.value) == "'XX' is not an ISO 3166 alpha-2 country code (e.g. DE)"


def test_alpha3_country_code_is_refused() -> None:
    with pytest.raises(UnknownCountry) as caught:
        country("DEU")
    assert str(caught.value) == "'DEU' is not an ISO 3166 alpha-2 country code (e.g. DE)"


def test_lower_case_country_code_is_refused_with_the_upper_case_hint() -> None:
    with pytest.raises(UnknownCountry) as caught:
        country("de")
    assert str(caught.value) == (
        "'de' is not an ISO 3166 alpha-2 country code (e.g. DE); codes are upper case: DE"
    )


def test_unknown_numeric_country_names_an_example() -> None:
    with pytest.raises(UnknownCountry) as caught:
        country("999")
    assert str(caught.value) == "'999' is not an ISO 3166 alpha-2 country code (e.g. DE)"


def test_unknown_country_is_a_value_error_and_a_configuration_error() -> None:
    with pytest.raises(UnknownCountry) as caught:
        country("")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, PostermError)
    assert caught.value.exit_code == 2


def test_country_lookup_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        country(276)  # type: ignore[arg-type]


def test_country_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        COUNTRIES["XX"] = Country("XX", "000", "Nowhere")  # type: ignore[index]
