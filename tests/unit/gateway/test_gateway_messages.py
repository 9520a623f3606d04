"""Building requests and reading verified answers (PROTOCOL.md payloads)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from terminal.gateway.errors import BadAnswer, MessageError
from terminal.gateway.messages import (
    Answer,
    build_request,
    is_uuid4,
    new_message_id,
    parse_timestamp,
    utc_timestamp,
)
from terminal.money import Amount

MOMENT = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)


def authorize(**overrides: object) -> dict[str, object]:
    args: dict[str, object] = {
        "id": new_message_id(),
        "seq": 7,
        "terminal_id": "POS00001",
        "merchant_id": "MERCHANT1",
        "created_at": MOMENT,
        "amount": Amount.of(1234, "EUR"),
        "entry": "nfc",
        "card": {"scheme": "visa", "aid": "A0000000031010", "masked_pan": "476173******0010"},
    }
    args.update(overrides)
    return build_request("authorize", **args)  # type: ignore[arg-type]


def test_authorize_payload_has_every_protocol_field() -> None:
    payload = authorize()
    assert payload["v"] == 1
    assert payload["type"] == "authorize"
    assert payload["amount"] == {"value": 1234, "currency": "EUR"}
    assert payload["created_at"] == "2026-11-22T10:00:00.123Z"
    assert payload["seq"] == 7
    assert payload["entry"] == "nfc"
    assert "ref" not in payload and "totals" not in payload
    assert is_uuid4(payload["id"])


def test_created_at_is_converted_to_utc_with_milliseconds() -> None:
    local = datetime(2026, 11, 22, 11, 0, 0, 5000, tzinfo=timezone(timedelta(hours=1)))
    assert utc_timestamp(local) == "2026-11-22T10:00:00.005Z"
    assert parse_timestamp("2026-11-22T10:00:00.005Z") == local


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(MessageError):
        authorize(created_at=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"id": "not-a-uuid"}, "UUID4"),
        ({"id": "6fa459ea-ee8a-3ca4-894e-db77e160355e"}, "UUID4"),  # version 3
        ({"seq": -1}, "seq"),
        ({"entry": "magstripe"}, "entry"),
        ({"amount": None}, "amount"),
        ({"card": None}, "card"),
    ],
)
def test_invalid_requests_are_refused_before_signing(
    overrides: dict[str, object], reason: str
) -> None:
    with pytest.raises(MessageError, match=reason):
        authorize(**overrides)


def test_reverse_needs_the_reference_only() -> None:
    payload = build_request(
        "reverse",
        id=new_message_id(),
        seq=1,
        terminal_id="POS00001",
        merchant_id="M1",
        created_at=MOMENT,
        ref="f47ac10b-58cc-4372-a567-0e02b2c3d479",
    )
    assert payload["ref"] == "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    with pytest.raises(MessageError, match="ref"):
        build_request(
            "reverse",
            id=new_message_id(),
            seq=1,
            terminal_id="T",
            merchant_id="M",
            created_at=MOMENT,
        )


def answer_payload(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "v": 1,
        "id": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "type": "qr_intent",
        "result": "pending",
        "code": "00",
        "auth_code": "",
        "reason": "",
        "gateway_ref": "G1",
        "at": "2026-11-22T10:00:00.000Z",
        "intent_id": "PI1234",
        "expires_at": "2026-11-22T10:02:00.000Z",
    }
    payload.update(overrides)
    return payload


def test_answer_exposes_type_specific_fields() -> None:
    answer = Answer.from_payload(
        answer_payload(), b"raw", expected_id="f47ac10b-58cc-4372-a567-0e02b2c3d479"
    )
    assert answer.result == "pending"
    assert answer.intent_id == "PI1234"
    assert answer.expires_at == datetime(2026, 11, 22, 10, 2, tzinfo=UTC)
    assert answer.raw == b"raw"


@pytest.mark.parametrize(
    "overrides",
    [
        {"id": "another"},
        {"v": 2},
        {"result": "maybe"},
        {"type": "teleport"},
        {"code": 0},
    ],
)
def test_answers_of_the_wrong_shape_are_bad_answers(overrides: dict[str, object]) -> None:
    with pytest.raises(BadAnswer):
        Answer.from_payload(
            answer_payload(**overrides), b"", expected_id="f47ac10b-58cc-4372-a567-0e02b2c3d479"
        )


def test_payload_serialises_without_floats() -> None:
    assert "." not in json.dumps(authorize()["amount"])
