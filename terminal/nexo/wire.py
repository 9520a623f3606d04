"""JSON in and out of the nexo door with exact decimals.

Amounts are decimal numbers in nexo JSON (`"RequestedAmount": 15.75`). They are read as
`Decimal` (never float) and written from integer minor units as exact decimal literals, so no
binary fraction ever touches money. Hostile input is bounded the way the ECR door bounds it:
body size, nesting depth and number length are checked before or while decoding.
"""

from __future__ import annotations

import json
import re
import uuid
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


_MARK = uuid.uuid4().hex
"""Brackets a decimal's text inside the standard encoder's output, to be unquoted after: random
per process, so no text in a message can forge one."""
_MARKED = re.compile(f'"{_MARK}(-?[0-9.]+){_MARK}"')
_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    default=lambda value: _decimal_text(value),
)


def _decimal_text(value: object) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return f"{_MARK}{format(value, 'f')}{_MARK}"
    raise TypeError(f"not written to nexo JSON: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Compact JSON of dicts, lists, text, integers, booleans, None and `Decimal`s (written as
    exact number literals). The standard library's C encoder writes the document (a hand
    walk in Python cost 0.4 ms per payment answer); each decimal comes back from `default` as
    its exact text between two marks and is unquoted afterwards."""
    text = _ENCODER.encode(value)
    if _MARK in text:
        text = _MARKED.sub(r"\1", text)
    return text.encode()
