"""JSON in and out of the nexo door with exact decimals.

Amounts are decimal numbers in nexo JSON (`"RequestedAmount": 15.75`). They are read as
`Decimal` (never float) and written from integer minor units as exact decimal literals, so no
binary fraction ever touches money. Hostile input is bounded the way the ECR door bounds it:
body size, nesting depth and number length are checked before or while decoding.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from terminal.ecr.errors import BadRequest
from terminal.ecr.requests import MAX_DEPTH, MAX_NUMBER_CHARS, _check_depth
from terminal.money import Amount, Currency
from terminal.nexo.errors import MessageFormat

MAX_BODY = 64 * 1024
"""A nexo request with a receipt to print stays far below this."""


def _number(kind: type[int] | type[Decimal]) -> Any:
    def parse(literal: str) -> int | Decimal:
        if len(literal) > MAX_NUMBER_CHARS:
            raise MessageFormat(f"A number is longer than {MAX_NUMBER_CHARS} characters.")
        return kind(literal)

    return parse


def _constant(name: str) -> Any:
    raise MessageFormat(f"{name} is not a JSON number.")


def loads(body: bytes) -> dict[str, Any]:
    """The JSON object in `body`; `MessageFormat` with a sentence for anything else."""
    if len(body) > MAX_BODY:
        raise MessageFormat(f"The body is larger than {MAX_BODY} bytes.")
    if not body.strip():
        raise MessageFormat('The body is empty; send {"SaleToPOIRequest": {...}}.')
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MessageFormat("The body is not UTF-8 JSON.") from None
    try:
        _check_depth(text)
    except BadRequest:
        raise MessageFormat(f"The body nests deeper than {MAX_DEPTH} levels.") from None
    try:
        value = json.loads(
            text,
            parse_int=_number(int),
            parse_float=_number(Decimal),
            parse_constant=_constant,
        )
    except json.JSONDecodeError as error:
        raise MessageFormat(f"The body is not valid JSON: {error.msg} at {error.pos}.") from None
    except RecursionError:
        raise MessageFormat("The body nests too deep.") from None
    if not isinstance(value, dict):
        raise MessageFormat("The body must be a JSON object.")
    return value


def to_minor(value: object, currency: Currency, field: str) -> int:
    """A nexo decimal amount as exact minor units; `MessageFormat` naming `field` else."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise MessageFormat(f"{field} must be a decimal number such as 15.75.")
    try:
        decimal = Decimal(value)
        scaled = decimal.scaleb(currency.exponent)
        if not decimal.is_finite() or scaled != scaled.to_integral_value():
            raise MessageFormat(
                f"{field} {value} has more decimals than {currency.code} allows "
                f"({currency.exponent})."
            )
    except InvalidOperation:
        raise MessageFormat(f"{field} is not a number.") from None
    return int(scaled)


def decimal_of(amount: Amount) -> Decimal:
    """An amount as the exact decimal of major units the wire carries."""
    return Decimal(amount.minor).scaleb(-amount.currency.exponent)


def dumps(value: Any) -> bytes:
    """Compact JSON of dicts, lists, text, integers, booleans, None and `Decimal`s (written as
    exact number literals)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode()


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for n, (key, item) in enumerate(value.items()):
            if n:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif value is None or isinstance(value, (bool, int, str)):
        out.append(json.dumps(value, ensure_ascii=False))
    else:
        raise TypeError(f"not written to nexo JSON: {type(value).__name__}")
