"""The pre-authorisation messages of docs/protocol.md: what the terminal builds and what the
simulator reads back, and that any tip the wire may carry is a typed refusal or a request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.bank.requests import Malformed, parse_request
from terminal.gateway.errors import MessageError
from terminal.gateway.messages import build_request, new_message_id
from terminal.money import Amount

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HOLD = new_message_id()


def eur(minor: int) -> Amount:
    return Amount.of(minor, "EUR")


def message(type: str, **fields: Any) -> dict[str, Any]:
    return build_request(
        type,
        id=new_message_id(),
        seq=1,
        terminal_id="POS00001",
        merchant_id="SHOP1",
        created_at=AT,
        **fields,
    )


def test_a_capture_carries_its_tip_inside_its_amount() -> None:
    payload = message("capture", ref=HOLD, amount=eur(11800), tip=eur(800))
    assert payload["amount"] == {"value": 11800, "currency": "EUR"}
    assert payload["tip"] == {"value": 800, "currency": "EUR"}
    read = parse_request(payload)
    assert (read.type, read.ref, read.amount, read.tip) == ("capture", HOLD, eur(11800), eur(800))


def test_increment_and_cancel_refer_to_the_hold() -> None:
    assert parse_request(message("increment", ref=HOLD, amount=eur(2000))).ref == HOLD
    assert parse_request(message("preauth_cancel", ref=HOLD)).type == "preauth_cancel"


@pytest.mark.parametrize(
    ("type", "fields", "words"),
    [
        ("increment", {"ref": HOLD, "amount": eur(100), "tip": eur(1)}, "only a capture"),
        ("capture", {"ref": HOLD, "amount": eur(100), "tip": eur(101)}, "part of its amount"),
        ("capture", {"ref": HOLD, "amount": eur(100), "tip": Amount.of(1, "USD")}, "same"),
        ("capture", {"amount": eur(100)}, "needs ref"),
        ("preauth", {"amount": eur(100), "entry": "qr_cpm", "card": {}}, "needs a card"),
        ("preauth", {"amount": eur(100), "entry": "nfc"}, "needs card"),
    ],
)
def test_the_terminal_never_builds_an_invalid_hold_message(
    type: str, fields: dict[str, Any], words: str
) -> None:
    with pytest.raises(MessageError, match=words):
        message(type, **fields)


@given(st.one_of(st.none(), st.integers(), st.text(), st.dictionaries(st.text(), st.integers())))
def test_any_tip_on_the_wire_is_a_request_or_malformed(tip: object) -> None:
    payload = message("capture", ref=HOLD, amount=eur(1000))
    payload["tip"] = tip
    try:
        read = parse_request(payload)
    except Malformed:
        return
    assert read.tip is not None and 0 <= read.tip.minor <= 1000
