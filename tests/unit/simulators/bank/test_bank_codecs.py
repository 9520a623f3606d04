"""The simulator's pure readers: request payloads, batch totals, wallet payloads, faults."""

from __future__ import annotations

import binascii
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.bank.faults import Faults
from simulators.bank.issuer import decode_card_data, expiry_date
from simulators.bank.requests import Malformed, normalise_totals, parse_request
from simulators.bank.wallet import WalletError, consumer_code, one_time_pan, parse_mpm
from terminal.security.pan import luhn_valid

REQUEST: dict[str, Any] = {
    "v": 1,
    "type": "refund",
    "id": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "ref": "0c7a1cde-9f5c-4b65-9a8e-7f57f4d8b1e1",
    "terminal_id": "POS00001",
    "merchant_id": "M1",
    "seq": 3,
    "created_at": "2026-11-22T10:00:00.000Z",
    "amount": {"value": 100, "currency": "EUR"},
}


def test_a_valid_request_is_read() -> None:
    request = parse_request(dict(REQUEST))
    assert (request.type, request.seq, request.amount) == ("refund", 3, request.amount)
    assert request.amount is not None and request.amount.minor == 100


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"v": 2}, "v must be 1"),
        ({"v": True}, "v must be 1"),
        ({"type": "payout"}, "type"),
        ({"id": "1234"}, "UUID4"),
        ({"terminal_id": "POS1"}, "terminal_id"),
        ({"seq": -1}, "seq"),
        ({"seq": 1.0}, "seq"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": "2026-11-22T10:00:00"}, "created_at"),
        ({"amount": {"value": "1", "currency": "EUR"}}, "amount"),
        ({"amount": {"value": 1, "currency": "XXX1"}}, "amount"),
        ({"ref": 5}, "ref"),
        ({"entry": "magstripe"}, "entry"),
    ],
)
def test_bad_requests_say_what_is_wrong(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        parse_request({**REQUEST, **change})


def test_each_type_needs_its_fields() -> None:
    without_ref = {k: v for k, v in REQUEST.items() if k != "ref"}
    with pytest.raises(Malformed, match="refund needs ref"):
        parse_request(without_ref)
    with pytest.raises(Malformed, match="offline"):
        parse_request({**REQUEST, "type": "advice", "entry": "qr_cpm", "card": {}, "offline": {}})


VALUES = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=10),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(st.dictionaries(st.sampled_from([*REQUEST, "card", "qr", "totals"]), VALUES))
def test_any_payload_is_a_request_or_malformed(payload: dict[str, Any]) -> None:
    try:
        parse_request({**REQUEST, **payload})
    except Malformed:
        pass


def test_totals_in_both_shapes_normalise_alike() -> None:
    canonical = {
        "sale": {"EUR": {"count": 2, "total": {"value": 300, "currency": "EUR"}}},
        "refund": {"EUR": {"count": 1, "total": 50}},
    }
    lines = {
        "lines": [
            {
                "type": "sale",
                "result": "approved",
                "count": 1,
                "total": {"value": 100, "currency": "EUR"},
            },
            {
                "type": "sale",
                "result": "approved_offline",
                "count": 1,
                "total": {"value": 200, "currency": "EUR"},
            },
            {
                "type": "sale",
                "result": "declined",
                "count": 9,
                "total": {"value": 900, "currency": "EUR"},
            },
            {
                "type": "refund",
                "result": "approved",
                "count": 1,
                "total": {"value": 50, "currency": "EUR"},
            },
        ]
    }
    expected = {("sale", "EUR"): (2, 300), ("refund", "EUR"): (1, 50)}
    assert normalise_totals(canonical) == expected
    assert normalise_totals(lines) == expected
    with pytest.raises(Malformed):
        normalise_totals({"sale": {"EUR": {"count": "2", "total": 1}}})


def mpm(body: str) -> str:
    body += "6304"
    return body + f"{binascii.crc_hqx(body.encode(), 0xFFFF):04X}"


def test_mpm_reference_label_and_crc() -> None:
    fields = parse_mpm(mpm("000201010212540512.00" + "62090505PI123"))
    assert (fields["54"], fields["62.05"]) == ("12.00", "PI123")
    with pytest.raises(WalletError, match="CRC"):
        parse_mpm(mpm("000201010212")[:-1] + "0")


@given(st.text(max_size=120))
def test_any_text_is_an_mpm_or_a_wallet_error(text: str) -> None:
    try:
        parse_mpm(text)
    except WalletError:
        pass


def test_one_time_codes_use_the_card_bin_and_a_valid_check_digit() -> None:
    token = one_time_pan("489537******0015")
    assert token.startswith("489537") and len(token) == 16 and luhn_valid(token)
    first, _ = consumer_code("489537******0015", "A0000000031010", "VISA", "281031")
    second, _ = consumer_code("489537******0015", "A0000000031010", "VISA", "281031")
    assert first != second


@pytest.mark.parametrize(
    ("text", "last_day"),
    [("301231", date(2030, 12, 31)), ("2902", date(2029, 2, 28)), ("281000", date(2028, 10, 31))],
)
def test_expiry_is_the_last_valid_day(text: str, last_day: date) -> None:
    assert expiry_date(text) == last_day


@pytest.mark.parametrize(
    "plaintext",
    [
        b"",
        b"[]",
        b'{"pan": "12"}',
        b'{"pan": "4761739001010010", "expiry": "3012", "emv": {"9F26": "zz"}}',
    ],
)
def test_incomplete_card_data_is_refused(plaintext: bytes) -> None:
    assert decode_card_data(plaintext) is None


def test_faults_are_validated() -> None:
    assert Faults.from_json({}) == Faults()
    assert Faults.from_json({"drop_after": 1, "down": True}).drop_after == 1.0
    for bad in (
        {"drop_after": 1.5},
        {"delay_ms": -1},
        {"down": "yes"},
        {"error_5xx": True},
        {"x": 1},
    ):
        with pytest.raises(ValueError):
            Faults.from_json(bad)
