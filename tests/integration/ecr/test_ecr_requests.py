"""The ECR request parsers: any bytes give a request or a BadRequest, never a crash."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from terminal.ecr.errors import BadRequest
from terminal.ecr.requests import PaymentRequest, parse_payment, parse_refund, parse_wait
from terminal.iso_codes import currency
from terminal.money import Amount
from terminal.payment.api import EntryMethod

EUR = currency("EUR")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["amount", "method", "reference", "value", "currency", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_bad_request(body: bytes) -> None:
    try:
        parse_payment(body, EUR)
    except BadRequest as error:
        assert error.sentence
    try:
        parse_refund(body, EUR)
    except BadRequest as error:
        assert error.sentence


@given(json_values)
def test_any_json_parses_or_raises_bad_request(value: object) -> None:
    body = json.dumps(value).encode()
    try:
        request = parse_payment(body, EUR)
    except BadRequest:
        return
    assert request.amount.minor > 0


@given(
    st.integers(min_value=1, max_value=10**9),
    st.sampled_from(list(EntryMethod)),
    st.text(alphabet="ABCDEF0123456789-", max_size=25),
)
def test_valid_requests_round_trip(value: int, method: EntryMethod, reference: str) -> None:
    body = json.dumps(
        {
            "amount": {"value": value, "currency": "EUR"},
            "method": method.value,
            "reference": reference,
        }
    ).encode()
    assert parse_payment(body, EUR) == PaymentRequest(Amount.of(value, "EUR"), method, reference)


@given(st.text(max_size=20))
def test_wait_parses_or_raises(text: str) -> None:
    try:
        seconds = parse_wait(text)
    except BadRequest:
        return
    assert 0 <= seconds <= 120
