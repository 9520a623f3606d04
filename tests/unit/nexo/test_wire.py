"""Exact decimal amounts in and out of nexo JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.iso_codes import currency
from terminal.money import Amount
from terminal.nexo.errors import MessageFormat
from terminal.nexo.wire import decimal_of, dumps, loads, to_minor

EUR, JPY, KWD = currency("EUR"), currency("JPY"), currency("KWD")


def test_decimal_amounts_become_exact_minor_units() -> None:
    body = loads(b'{"a": 15.75, "b": 0.1, "c": 100, "d": 1.10, "e": 1.005}')
    assert to_minor(body["a"], EUR, "a") == 1575
    assert to_minor(body["b"], EUR, "b") == 10
    assert to_minor(body["c"], JPY, "c") == 100
    assert to_minor(body["d"], EUR, "d") == 110
    assert to_minor(body["e"], KWD, "e") == 1005
    with pytest.raises(MessageFormat, match="more decimals than EUR"):
        to_minor(body["e"], EUR, "e")
    with pytest.raises(MessageFormat, match="JPY"):
        to_minor(body["a"], JPY, "a")


@pytest.mark.parametrize("value", ["15.75", True, None, [1], {"a": 1}])
def test_non_numbers_are_message_format(value: object) -> None:
    with pytest.raises(MessageFormat, match="RequestedAmount"):
        to_minor(value, EUR, "RequestedAmount")


@given(st.integers(min_value=0, max_value=999_999_999_999), st.sampled_from([EUR, JPY, KWD]))
def test_round_trip_through_the_wire(minor: int, cur: object) -> None:
    amount = Amount.of(minor, cur)  # type: ignore[arg-type]
    text = dumps({"v": decimal_of(amount)})
    assert to_minor(loads(text)["v"], amount.currency, "v") == minor


def test_dumps_writes_decimals_as_number_literals() -> None:
    assert dumps({"a": Decimal("15.75"), "b": [1, "x", None, True]}) == (
        b'{"a":15.75,"b":[1,"x",null,true]}'
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{", b"\xff\xfe", b"[" * 5000, b'{"a": NaN}', b'{"a": 1' + b"1" * 100 + b"}"],
)
def test_bad_bodies_are_message_format(body: bytes) -> None:
    with pytest.raises(MessageFormat):
        loads(body)


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**15), max_value=10**15)
        | st.text(max_size=20)
        | st.decimals(allow_nan=False, allow_infinity=False, places=3),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=20,
    )
)
def test_dumps_round_trips_any_document_with_exact_decimals(value: object) -> None:
    """Text that looks like the encoder's decimal marks stays text; decimals stay exact."""
    document = {"v": value, "trap": '"0.5"', "also": "\\u0022"}
    assert loads(dumps(document)) == document


def test_dumps_refuses_what_is_no_json_and_no_decimal() -> None:
    for value in (Decimal("NaN"), object(), b"bytes"):
        with pytest.raises(TypeError, match="not written to nexo JSON"):
            dumps({"v": value})
