"""Pure parsers for what a till sends: every bad input becomes a `BadRequest` with the reason.

Python's json module is not safe on hostile input by itself: 15,000 nested `[` exhaust its
recursion (RecursionError) and a 5,000-digit integer trips the int conversion limit
(ValueError). So the nesting is measured before decoding, and every number literal goes
through a parser that refuses long ones, each with a sentence.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from terminal.ecr.errors import BadRequest
from terminal.money import DEFAULT_MAX_MINOR, Amount, AmountError, Currency
from terminal.payment.api import EntryMethod

MAX_BODY = 16 * 1024
MAX_WAIT_S = 120.0
REFERENCE_LIMIT = 25
"""The EMVCo QR reference label (62/05) and most acquirers' merchant reference hold 25."""
MAX_DEPTH = 32
"""Deepest nesting of arrays and objects in a body; a till's request needs 2."""
MAX_NUMBER_CHARS = 64
"""Longest number literal: far above any amount, far below Python's 4,300-digit int limit."""
MAX_MINOR = DEFAULT_MAX_MINOR
"""999,999,999,999 minor units: EMV's amount field (n12) and the QR amount (54) hold no more,
on every method; nfc.transaction_limit is lower for cards and the engine declines above it."""

_STRINGS_AND_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
"""A string (or an unterminated one, to the end: one pass, no backtracking) or a bracket."""


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    amount: Amount
    method: EntryMethod
    reference: str
    refund: bool = False
    """A card-present refund without a sale (nexo PaymentType "Refund"); the ECR API's own
    requests are always sales."""
    allow_partial: bool = False
    """The card's issuer may approve less than `amount` (split tender follows)."""
    split_of: str = ""
    """This payment pays (part of) what is left of that partially approved payment."""
    tip: Amount | None = None
    """Included in `amount`, kept apart for the receipt (nexo TipAmount; /ecr/v1 sends none)."""


def parse_json_object(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise BadRequest(f"The body is larger than {MAX_BODY} bytes.")
    if not body.strip():
        raise BadRequest("The body is empty; send a JSON object.")
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as error:
        raise BadRequest(f"The body is not valid JSON: {error}.") from None
    _check_depth(text)
    try:
        value = json.loads(text, parse_int=_number(int), parse_float=_number(float))
    except json.JSONDecodeError as error:
        raise BadRequest(f"The body is not valid JSON: {error}.") from None
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object.")
    return value


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH (brackets inside strings do not count)."""
    depth = 0
    for match in _STRINGS_AND_BRACKETS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise BadRequest(f"The body nests arrays or objects deeper than {MAX_DEPTH}.")
        elif token in ("]", "}"):
            depth -= 1


def _number(kind: type[int] | type[float]) -> Any:
    def parse(literal: str) -> int | float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise BadRequest(f"The body has a number longer than {MAX_NUMBER_CHARS} characters.")
        return kind(literal)

    return parse


def parse_amount(value: object, currency: Currency, field: str = "amount") -> Amount:
    if not isinstance(value, dict):
        raise BadRequest(
            f'"{field}" must be an object like {{"value": 1234, "currency": "{currency.code}"}}.'
        )
    try:
        amount = Amount.from_json(value)
    except AmountError as error:
        raise BadRequest(f'"{field}": {error.sentence}') from None
    except (TypeError, ValueError) as error:
        raise BadRequest(f'"{field}": {error}') from None
    if amount.currency != currency:
        raise BadRequest(
            f'"{field}": this terminal takes {currency.code}, not {amount.currency.code}.'
        )
    if amount.minor <= 0:
        raise BadRequest(f'"{field}": the value must be more than zero (minor units).')
    if amount.minor > MAX_MINOR:
        raise BadRequest(
            f'"{field}": the amount is above the terminal\'s maximum of '
            f"{Amount(MAX_MINOR, currency)}."
        )
    return amount


def _check_keys(data: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f'Unknown field "{unknown[0]}"; allowed: {", ".join(sorted(allowed))}.')
    missing = sorted(required - set(data))
    if missing:
        raise BadRequest(f'Missing field "{missing[0]}".')


def parse_reference(data: dict[str, Any]) -> str:
    """A body's optional "reference": the till's own id for the request, which makes a retry
    of it idempotent ("" when absent)."""
    reference = data.get("reference", "")
    if not isinstance(reference, str):
        raise BadRequest('"reference" must be text.')
    if len(reference) > REFERENCE_LIMIT:
        raise BadRequest(f'"reference" is longer than {REFERENCE_LIMIT} characters.')
    if any(not ch.isprintable() for ch in reference):
        raise BadRequest('"reference" must be printable text.')
    return reference


def parse_payment(body: bytes, currency: Currency) -> PaymentRequest:
    """POST /ecr/v1/payments."""
    data = parse_json_object(body)
    _check_keys(
        data, {"amount", "method", "reference", "allow_partial", "split_of"}, {"amount", "method"}
    )
    amount = parse_amount(data["amount"], currency)
    method_text = data["method"]
    methods = [m.value for m in EntryMethod]
    if not isinstance(method_text, str) or method_text not in methods:
        raise BadRequest(f'"method" must be one of {", ".join(methods)}.')
    reference = parse_reference(data)
    allow_partial = data.get("allow_partial", False)
    if not isinstance(allow_partial, bool):
        raise BadRequest('"allow_partial" must be true or false.')
    split_of = data.get("split_of", "")
    if not isinstance(split_of, str) or len(split_of) > 64:
        raise BadRequest('"split_of" must be the id of the partially approved payment.')
    return PaymentRequest(
        amount,
        EntryMethod(method_text),
        reference,
        allow_partial=allow_partial,
        split_of=split_of,
    )


def parse_tip(body: bytes, currency: Currency) -> Amount:
    """POST .../tip: {"amount": {"value": 600, "currency": "EUR"}}, the new tip (0 removes it;
    a negative one is refused with its sentence)."""
    data = parse_json_object(body)
    _check_keys(data, {"amount"}, {"amount"})
    value = data["amount"]
    if not isinstance(value, dict):
        raise BadRequest(
            f'"amount" must be an object like {{"value": 600, "currency": "{currency.code}"}}.'
        )
    try:
        amount = Amount.from_json(value)
    except AmountError as error:
        raise BadRequest(f'"amount": {error.sentence}') from None
    if amount.currency != currency:
        raise BadRequest(
            f'"amount": this terminal takes {currency.code}, not {amount.currency.code}.'
        )
    if amount.minor < 0:
        raise BadRequest(f'"amount": a tip cannot be negative ({amount}). Nothing was sent.')
    if amount.minor > MAX_MINOR:
        raise BadRequest('"amount": the tip is above the terminal\'s maximum.')
    return amount


def parse_cash(body: bytes, currency: Currency) -> Amount | None:
    """POST .../cash: {"amount": {...}} received, or {} / no body for all that is left."""
    return parse_refund(body, currency)


def parse_refund(body: bytes, currency: Currency) -> Amount | None:
    """POST .../refund: {"amount": {...}} for part of a sale, {} (or no body) for all of it."""
    if not body.strip():
        return None
    data = parse_json_object(body)
    _check_keys(data, {"amount"}, set())
    if "amount" not in data or data["amount"] is None:
        return None
    return parse_amount(data["amount"], currency)


def parse_wait(text: str | None) -> float:
    """?wait=S: seconds to long-poll, 0 to MAX_WAIT_S."""
    if text is None or text == "":
        return 0.0
    try:
        seconds = float(text)
    except ValueError:
        raise BadRequest('"wait" must be a number of seconds.') from None
    if not math.isfinite(seconds) or seconds < 0:
        raise BadRequest('"wait" must be zero or more seconds.')
    if seconds > MAX_WAIT_S:
        raise BadRequest(f'"wait" is at most {MAX_WAIT_S:g} seconds.')
    return seconds
