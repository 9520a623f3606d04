"""Parsing of FirstReservation, UpdateReservation and Completion PaymentRequests: the amounts as
exact minor units (a Completion's tip apart), the hold's POITransactionID, and a named field
for every mistake."""

from __future__ import annotations

from typing import Any

import pytest

from terminal.iso_codes import currency
from terminal.nexo.errors import MessageFormat, NexoRefusal
from terminal.nexo.reservations import is_reservation, parse_reservation
from terminal.nexo.wire import loads

EUR, JPY = currency("EUR"), currency("JPY")


def request(payment_type: str, amounts: str, original: str | None = None) -> dict[str, Any]:
    """A PaymentRequest body parsed from JSON text (decimals as the wire carries them)."""
    extra = ""
    if original is not None:
        extra = (
            f', "OriginalPOITransaction": {{"POITransactionID": {{"TransactionID": {original}}}}}'
        )
    text = (
        '{"SaleData": {"SaleTransactionID": {"TransactionID": "T1", '
        '"TimeStamp": "2026-12-07T10:00:00Z"}}, '
        f'"PaymentTransaction": {{"AmountsReq": {amounts}{extra}}}, '
        f'"PaymentData": {{"PaymentType": "{payment_type}"}}}}'
    )
    body: dict[str, Any] = loads(text.encode())
    return body


def test_only_the_reservation_types_are_taken() -> None:
    assert is_reservation(request("FirstReservation", '{"Currency": "EUR", "RequestedAmount": 1}'))
    assert is_reservation(request("Completion", '{"Currency": "EUR", "RequestedAmount": 1}'))
    assert not is_reservation(request("Normal", '{"Currency": "EUR", "RequestedAmount": 1}'))
    assert not is_reservation({"PaymentData": "FirstReservation"})
    assert not is_reservation({})


def test_completion_with_a_tip_keeps_the_amounts_apart() -> None:
    body = request(
        "Completion", '{"Currency": "EUR", "RequestedAmount": 110.00, "TipAmount": 8.10}', '"H-1"'
    )
    parsed = parse_reservation(body, EUR)
    assert parsed.payment_type == "Completion"
    assert parsed.original_id == "H-1"
    assert parsed.requested.minor == 11000
    assert parsed.call.tip is not None and parsed.call.tip.minor == 810
    assert parsed.call.amount.minor == 11810


def test_first_reservation_in_a_zero_decimal_currency() -> None:
    parsed = parse_reservation(
        request("FirstReservation", '{"Currency": "JPY", "RequestedAmount": 15000}'), JPY
    )
    assert (parsed.original_id, parsed.requested.minor) == ("", 15000)


@pytest.mark.parametrize(
    ("payment_type", "amounts", "original", "names"),
    [
        ("UpdateReservation", '{"Currency": "EUR", "RequestedAmount": 5}', None, "Original"),
        ("Completion", '{"Currency": "EUR", "RequestedAmount": 5}', '""', "TransactionID"),
        ("Completion", '{"Currency": "EUR", "RequestedAmount": 5}', "17", "TransactionID"),
        ("Completion", '{"Currency": "EUR", "RequestedAmount": 5}', '"' + "x" * 65 + '"', "64"),
        (
            "UpdateReservation",
            '{"Currency": "EUR", "RequestedAmount": 5, "TipAmount": 1}',
            '"H"',
            "TipAmount",
        ),
        (
            "FirstReservation",
            '{"Currency": "EUR", "RequestedAmount": 5, "TipAmount": 1}',
            None,
            "TipAmount",
        ),
        ("FirstReservation", '{"Currency": "EUR", "RequestedAmount": 5}', '"H"', "refers to"),
        ("Completion", '{"Currency": "EUR", "RequestedAmount": 0}', '"H"', "greater than zero"),
        ("Completion", '{"Currency": "EUR", "RequestedAmount": 1.005}', '"H"', "decimals"),
        (
            "Completion",
            '{"Currency": "EUR", "RequestedAmount": 5, "TipAmount": -1}',
            '"H"',
            "negative",
        ),
    ],
)
def test_mistakes_are_message_format_naming_the_field(
    payment_type: str, amounts: str, original: str | None, names: str
) -> None:
    with pytest.raises(MessageFormat, match=names):
        parse_reservation(request(payment_type, amounts, original), EUR)


def test_another_currency_is_not_allowed() -> None:
    body = request("Completion", '{"Currency": "USD", "RequestedAmount": 5}', '"H"')
    with pytest.raises(NexoRefusal) as refused:
        parse_reservation(body, EUR)
    assert refused.value.condition == "NotAllowed"
