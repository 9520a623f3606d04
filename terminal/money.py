"""Money as integer minor units: parsing operator text, arithmetic and formatting.

A payment terminal must never round: every amount is an `Amount` holding an `int` of
minor units (cents, fils, yen) and its ISO 4217 `Currency`. Floats are refused
everywhere with `TypeError`, so a binary fraction can never reach a card or a receipt.

Parsing rules for operator text (`Amount.parse`), chosen so that a misread is an
error rather than a silently wrong amount:

* Surrounding whitespace is ignored; one leading sign ("-", "+", "−") is allowed.
* Spaces (also no-break, narrow no-break, thin and figure spaces) and apostrophes
  ("1'234.50", Swiss) only ever group thousands.
* When both "." and "," appear, the last one is the decimal separator and the other
  groups thousands ("1,234.50", "1.234,50").
* A single "." or "," that appears once is the decimal separator ("12,34" is 12.34).
  So "1,234" in EUR is refused as "too many decimals" instead of being read as
  1234 or 1.23. The one exception is a currency without minor unit (JPY): there a
  single separator between one to three digits (not starting with 0) and exactly
  three digits groups thousands, so "1,234" and "1.234" are 1234 yen; any other
  decimals ("12.5", "0.123", "1000.000") are refused.
* The same "." or "," appearing several times groups thousands ("1.234.567").
* Thousands groups must be exactly three digits, with one kind of separator, and
  the first group must not start with 0 ("0,123" is refused, never read as 123).
* More decimals than the currency has are refused, even trailing zeros.
* Currency symbols and codes are refused: the currency comes from configuration.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypedDict

from terminal import iso_codes
from terminal.errors import PostermError
from terminal.iso_codes import Currency, UnknownCurrency, currency

__all__ = [
    "DEFAULT_MAX_MINOR",
    "DISPLAY_LOCALES",
    "Amount",
    "AmountError",
    "AmountJSON",
    "Currency",
    "CurrencyMismatch",
    "UnknownCurrency",
    "currency",
]

DEFAULT_MAX_MINOR = 10**12 - 1
"""Default ceiling for parsed amounts: large enough for any sale, small enough to catch typos."""

DISPLAY_LOCALES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "en": (".", ","),
        "zh": (".", ","),
        "de": (",", "."),
        "fr": (",", "\u202f"),
    }
)
"""(decimal, group) separators by language; unknown languages are shown as "en"."""

_DIGITS = frozenset("0123456789")
_SPACES = frozenset(" \u00a0\u2007\u2009\u202f")
_APOSTROPHES = frozenset("'\u2019")
_MARKS = frozenset(".,")
_ALLOWED = _DIGITS | _SPACES | _APOSTROPHES | _MARKS
_SIGNS = {"-": True, "\u2212": True, "+": False}
_EXAMPLE = "e.g. 12.34"
_FIRST_GROUP = re.compile("[1-9][0-9]{0,2}")
_GROUP = re.compile("[0-9]{3}")


class AmountError(PostermError, ValueError):
    """Operator text or stored data is not a valid amount; the message says what to fix."""

    exit_code = 2


class CurrencyMismatch(PostermError, ValueError):
    """Two amounts in different currencies were added, subtracted or compared."""


class AmountJSON(TypedDict):
    """Wire form of an `Amount`: integer minor units and the alpha currency code."""

    value: int
    currency: str


def _shown(text: str) -> str:
    """Quote operator text for a message, cut short so pasted junk cannot flood a screen."""
    return repr(text if len(text) <= 24 else text[:24] + "...")


def _require_int(value: object, what: str) -> int:
    """Accept only a real int: floats lose cents, bools are a bug, Decimals hide scale."""
    if isinstance(value, bool) or not isinstance(value, int):
        hint = "; never use float for money" if isinstance(value, float) else ""
        raise TypeError(f"{what} must be int, not {type(value).__name__}{hint}")
    return value


def _resolve(cur: Currency | str) -> Currency:
    """Accept a `Currency` or its ISO code, so callers can pass configuration text."""
    if isinstance(cur, Currency):
        return cur
    if isinstance(cur, str):
        return currency(cur)
    raise TypeError(f"currency must be Currency or str, not {type(cur).__name__}")


def _group(digits: str, sep: str) -> str:
    """Insert a separator every three digits from the right."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sep.join(parts)


def _separators(locale: str) -> tuple[str, str]:
    """Pick (decimal, group) for a locale such as "de", "de_DE" or "fr-CH"."""
    language = locale.replace("-", "_").split("_", 1)[0].lower()
    return DISPLAY_LOCALES.get(language, DISPLAY_LOCALES["en"])


def _ungroup(whole: str, text: str) -> str:
    """Remove thousands separators from the integer part, insisting on groups of three."""
    if not whole or all(ch in _DIGITS for ch in whole):
        return whole
    separators = {ch for ch in whole if ch not in _DIGITS}
    kinds = {
        "space" if ch in _SPACES else "apostrophe" if ch in _APOSTROPHES else ch
        for ch in separators
    }
    chars = "".join(sorted(separators))
    if len(kinds) != 1 or not re.fullmatch(
        f"[1-9][0-9]{{0,2}}(?:[{re.escape(chars)}][0-9]{{3}})+", whole
    ):
        raise AmountError(
            f"malformed digit grouping in {_shown(text)}: "
            "group thousands in threes, e.g. 1,234,567.89"
        )
    return "".join(ch for ch in whole if ch in _DIGITS)


def _decimal_index(body: str, text: str, cur: Currency) -> int | None:
    """Find the decimal separator in the unsigned text by the rules in the module doc."""
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        index = max(body.rfind("."), body.rfind(","))
        if body.count(body[index]) > 1:
            raise AmountError(f"more than one decimal separator {body[index]!r} in {_shown(text)}")
        return index
    if dots + commas != 1:
        return None
    index = body.find(".") if dots else body.find(",")
    tail = body[index + 1 :]
    if cur.exponent == 0 and _FIRST_GROUP.fullmatch(body[:index]) and _GROUP.fullmatch(tail):
        return None
    return index


def _too_many_decimals(cur: Currency) -> AmountError:
    """Say how many decimals the currency allows, since that is what the operator must fix."""
    if cur.exponent == 0:
        return AmountError(f"too many decimals: {cur.code} has no minor unit")
    places = "decimal place" if cur.exponent == 1 else "decimal places"
    return AmountError(f"too many decimals: {cur.code} has {cur.exponent} {places}")


@dataclass(frozen=True, slots=True, repr=False)
class Amount:
    """An exact amount of money: `minor` units of `currency` (EUR 12.34 is minor=1234).

    Amounts of different currencies are never equal, and adding, subtracting or
    ordering them raises `CurrencyMismatch` rather than guessing an exchange.
    """

    minor: int
    currency: Currency

    def __post_init__(self) -> None:
        """Refuse floats and loose currency strings at the door, not at the receipt."""
        _require_int(self.minor, "Amount.minor")
        if not isinstance(self.currency, Currency):
            raise TypeError(
                f"Amount.currency must be Currency, not {type(self.currency).__name__}; "
                "use Amount.of() to pass a code"
            )

    # -- construction -----------------------------------------------------------------

    @classmethod
    def of(cls, minor: int, currency: Currency | str) -> Amount:
        """Build from integer minor units and a `Currency` or ISO code ("EUR" or "978")."""
        return cls(_require_int(minor, "minor"), _resolve(currency))

    @classmethod
    def zero(cls, currency: Currency | str) -> Amount:
        """The zero amount, a start value for totals."""
        return cls(0, _resolve(currency))

    @classmethod
    def parse(
        cls,
        text: str,
        currency: Currency | str,
        *,
        allow_negative: bool = False,
        allow_zero: bool = True,
        max_minor: int = DEFAULT_MAX_MINOR,
    ) -> Amount:
        """Read an amount typed by an operator or written in a config file.

        See the module docstring for the separator rules. Raises `AmountError` with a
        sentence for the operator; `TypeError` only for a programming error (non-str).
        """
        if not isinstance(text, str):
            raise TypeError(f"amount text must be str, not {type(text).__name__}")
        cur = _resolve(currency)
        if _require_int(max_minor, "max_minor") < 0:
            raise ValueError("max_minor must not be negative")
        negative, digits = _split_digits(text, cur)
        if negative and not allow_negative:
            raise AmountError("negative amounts are not allowed here")
        significant = digits.lstrip("0")
        if len(significant) > len(str(max_minor)) or int(significant or "0") > max_minor:
            limit = cls(-max_minor if negative else max_minor, cur).format_display()
            bound = "minimum" if negative else "maximum"
            raise AmountError(f"too large: the {bound} is {limit}")
        minor = int(significant or "0")
        if minor == 0 and not allow_zero:
            raise AmountError("a zero amount is not allowed here")
        return cls(-minor if negative else minor, cur)

    # -- arithmetic and comparison ------------------------------------------------------

    def _same(self, other: Amount, verb: str) -> None:
        """Guard every binary operation: mixing currencies is always a bug upstream."""
        if self.currency != other.currency:
            raise CurrencyMismatch(
                f"cannot {verb} {self.currency.code} and {other.currency.code} amounts"
            )

    def __add__(self, other: Amount) -> Amount:
        if not isinstance(other, Amount):
            return NotImplemented
        self._same(other, "add")
        return Amount(self.minor + other.minor, self.currency)

    def __sub__(self, other: Amount) -> Amount:
        if not isinstance(other, Amount):
            return NotImplemented
        self._same(other, "subtract")
        return Amount(self.minor - other.minor, self.currency)

    def __neg__(self) -> Amount:
        return Amount(-self.minor, self.currency)

    def __abs__(self) -> Amount:
        return Amount(abs(self.minor), self.currency)

    def __lt__(self, other: Amount) -> bool:
        if not isinstance(other, Amount):
            return NotImplemented
        self._same(other, "compare")
        return self.minor < other.minor

    def __le__(self, other: Amount) -> bool:
        if not isinstance(other, Amount):
            return NotImplemented
        self._same(other, "compare")
        return self.minor <= other.minor

    def __gt__(self, other: Amount) -> bool:
        if not isinstance(other, Amount):
            return NotImplemented
        self._same(other, "compare")
        return self.minor > other.minor

    def __ge__(self, other: Amount) -> bool:
        if not isinstance(other, Amount):
            return NotImplemented
        self._same(other, "compare")
        return self.minor >= other.minor

    @property
    def is_zero(self) -> bool:
        """True for zero, which many flows refuse (a sale of nothing)."""
        return self.minor == 0

    @property
    def is_negative(self) -> bool:
        """True for refunds and corrections."""
        return self.minor < 0

    # -- formatting -------------------------------------------------------------------

    def _parts(self) -> tuple[str, str, str]:
        """Split into (sign, whole digits, minor digits) once, for every format."""
        exponent = self.currency.exponent
        digits = str(abs(self.minor)).rjust(exponent + 1, "0")
        whole, fraction = digits[: len(digits) - exponent], digits[len(digits) - exponent :]
        return ("-" if self.minor < 0 else ""), whole, fraction

    def format_plain(self) -> str:
        """Machine form "1234.50": point, no grouping, all minor digits (EMVCo QR tag 54)."""
        sign, whole, fraction = self._parts()
        return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"

    def format_display(self, locale: str = "en") -> str:
        """Screen and receipt form "EUR 1,234.50", with the locale's separators."""
        decimal, group = _separators(locale)
        sign, whole, fraction = self._parts()
        number = _group(whole, group) + (decimal + fraction if fraction else "")
        return f"{self.currency.code} {sign}{number}"

    def __str__(self) -> str:
        return self.format_display("en")

    def __repr__(self) -> str:
        return f"Amount.of({self.minor}, {self.currency.code!r})"

    # -- JSON -------------------------------------------------------------------------

    def to_json(self) -> AmountJSON:
        """Wire form {"value": 1234, "currency": "EUR"}: integers only, never a float."""
        return {"value": self.minor, "currency": self.currency.code}

    @classmethod
    def from_json(cls, obj: object) -> Amount:
        """Read the wire form back, refusing anything that is not exactly that shape."""
        if not isinstance(obj, Mapping):
            raise AmountError(
                f'amount must be an object like {{"value": 1234, "currency": "EUR"}}, '
                f"not {type(obj).__name__}"
            )
        keys = set(obj)
        if keys != {"value", "currency"}:
            missing = sorted(str(k) for k in {"value", "currency"} - keys)
            extra = sorted(str(k) for k in keys - {"value", "currency"})
            problem = (
                f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
            )
            raise AmountError(f'amount must have exactly "value" and "currency": {problem}')
        value, code = obj["value"], obj["currency"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise AmountError(
                f"amount value must be an integer of minor units, not {type(value).__name__}"
            )
        if not isinstance(code, str):
            raise AmountError(f"amount currency must be a string, not {type(code).__name__}")
        try:
            cur = iso_codes.currency(code)
        except UnknownCurrency as error:
            raise AmountError(f"amount currency: {error}") from None
        return cls(value, cur)


def _split_digits(text: str, cur: Currency) -> tuple[bool, str]:
    """Turn operator text into (negative, minor-unit digits) or raise `AmountError`."""
    stripped = text.strip()
    if not stripped:
        raise AmountError(f"no amount entered: type a number, {_EXAMPLE}")
    for ch in stripped:
        if unicodedata.category(ch) == "Sc":
            raise AmountError(
                f"leave out the currency symbol {ch}: type the number only, {_EXAMPLE}"
            )
    negative = _SIGNS.get(stripped[0])
    body = stripped if negative is None else stripped[1:].lstrip()
    if not any(ch in _DIGITS for ch in body) or any(ch not in _ALLOWED for ch in body):
        raise AmountError(
            f"not a number: {_shown(text)}; type digits with an optional decimal "
            f"separator, {_EXAMPLE}"
        )
    index = _decimal_index(body, text, cur)
    if index is None:
        whole, fraction = body, ""
    else:
        if cur.exponent == 0:
            raise _too_many_decimals(cur)
        whole, fraction = body[:index], body[index + 1 :]
        if any(ch not in _DIGITS for ch in fraction):
            raise AmountError(
                f"malformed digit grouping in {_shown(text)}: "
                "group thousands in threes, e.g. 1,234,567.89"
            )
    whole_digits = _ungroup(whole, text)
    if len(fraction) > cur.exponent:
        raise _too_many_decimals(cur)
    return bool(negative), (whole_digits or "0") + fraction.ljust(cur.exponent, "0")
