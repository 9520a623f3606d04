"""Property tests: any text in gives a typed error or a value; build then read is identity."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.iso_codes import CURRENCIES
from terminal.money import Amount
from terminal.qr.cpm import parse_consumer_code
from terminal.qr.errors import QrError
from terminal.qr.mpm import (
    MerchantCodeRequest,
    build_merchant_code,
    encode_fields,
    parse_merchant_code,
    read_merchant_code,
)
from terminal.qr.rules import is_template_id

COMMON = st.text(alphabet=string.ascii_letters + string.digits + " .-*", min_size=1)
ids = st.integers(min_value=0, max_value=99).map(lambda n: f"{n:02d}")


@given(st.text())
def test_any_text_is_read_or_refused_with_a_typed_error(text: str) -> None:
    try:
        code = read_merchant_code(text)
    except QrError as error:
        assert error.sentence
    else:
        assert isinstance(code.crc_ok, bool)


@given(st.text(alphabet="0123456789ABCDEF", min_size=0, max_size=120))
def test_digit_soup_is_read_or_refused(text: str) -> None:
    try:
        parse_merchant_code(text, strict=True)
    except QrError:
        pass


@given(st.text())
def test_any_text_as_a_consumer_code_is_read_or_refused(text: str) -> None:
    try:
        parse_consumer_code(text)
    except QrError as error:
        assert error.sentence


@given(st.binary(max_size=300))
def test_any_bytes_in_base64_as_a_consumer_code(data: bytes) -> None:
    import base64

    try:
        parse_consumer_code(base64.b64encode(b"\x85\x05CPV01" + data).decode())
    except QrError as error:
        assert error.sentence


@given(
    st.dictionaries(
        ids.filter(lambda i: i != "63" and not is_template_id(i)),
        st.text(min_size=1, max_size=40),
        max_size=8,
    ),
    st.dictionaries(ids, st.text(min_size=1, max_size=20), min_size=1, max_size=4),
)
def test_encode_then_read_gives_the_same_fields(
    primitives: dict[str, str], template: dict[str, str]
) -> None:
    fields: dict[str, str | dict[str, str]] = {**primitives, "62": template}
    payload = encode_fields(fields)
    code = read_merchant_code(payload)
    assert code.crc_ok
    read = {k: v for k, v in code.fields.items() if k != "63"}
    assert read == fields


@settings(max_examples=60)
@given(
    code=st.sampled_from(sorted(CURRENCIES)),
    minor=st.integers(min_value=1, max_value=10**9),
    name=COMMON.filter(lambda s: s.strip()).map(lambda s: s[:25]),
    city=COMMON.filter(lambda s: s.strip()).map(lambda s: s[:15]),
    reference=COMMON.map(lambda s: s[:25]),
    dynamic=st.booleans(),
)
def test_build_then_strict_parse_round_trip(
    code: str, minor: int, name: str, city: str, reference: str, dynamic: bool
) -> None:
    cur = CURRENCIES[code]
    request = MerchantCodeRequest(
        merchant_account={"26": {"00": "com.posterm.pay", "01": "M1"}},
        mcc="5999",
        currency=cur,
        country="DE",
        merchant_name=name,
        merchant_city=city,
        amount=Amount(minor, cur),
        dynamic=dynamic,
        reference_label=reference,
        terminal_label="POSTERM1",
    )
    read = parse_merchant_code(build_merchant_code(request), strict=True)
    assert read.amount == Amount(minor, cur)
    assert read.merchant_name == name
    assert read.merchant_city == city
    assert read.reference_label == reference
    assert read.dynamic is dynamic
