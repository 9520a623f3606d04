"""The ISO 8583 codec with the default dialect: round trips, the MAC rule, framing, and any
bytes in → a Message or a typed error, never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.iso8583.codec import Message, decode, encode, frame, mac_of, unframe, verify_mac
from terminal.iso8583.dialect import load_dialect
from terminal.iso8583.errors import DialectError, FrameError, MacError, MessageError

DIALECT = load_dialect("posterm-1987")
KEY = bytes(range(16))


def sale() -> Message:
    return Message(
        "0200",
        {
            2: "4761731000000043",
            3: "000000",
            4: "1234",
            7: "1207101112",
            11: "42",
            35: "4761731000000043=2512201",
            41: "TERM0001",
            42: "MERCHANT1",
            49: "978",
            55: bytes.fromhex("9F2608AABBCCDDEEFF0011"),
        },
    )


def test_fixed_numeric_fields_are_zero_padded_and_text_fields_space_padded() -> None:
    body = encode(sale(), DIALECT)
    assert body[:4] == b"0200"
    assert b"000000001234" in body  # F4 n12, minor units
    assert b"000042" in body  # F11
    assert b"MERCHANT1      " in body  # F42 ans15, space padded
    back = decode(body, DIALECT)
    assert back.fields[4] == "000000001234"
    assert back.text(42) == "MERCHANT1"
    assert back.fields[55] == bytes.fromhex("9F2608AABBCCDDEEFF0011")


def test_mac_goes_in_f64_without_a_secondary_bitmap_and_in_f128_with_one() -> None:
    body = encode(sale(), DIALECT, KEY)
    message = decode(body, DIALECT)
    assert 64 in message.fields and 128 not in message.fields
    assert message.fields[64] == mac_of(body[:-8], KEY)
    verify_mac(body, message, KEY)

    with_90 = encode(sale().with_fields(mti="0400", f90="0" * 42), DIALECT, KEY)
    message = decode(with_90, DIALECT)
    assert 128 in message.fields and 64 not in message.fields
    assert with_90[4] & 0x80  # bit 1: secondary bitmap present
    verify_mac(with_90, message, KEY)


def test_mac_matches_the_nist_cmac_vector() -> None:
    # NIST SP 800-38B, AES-128 example 2 (16-byte message).
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    data = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert mac_of(data, key) == bytes.fromhex("070a16b46b4d4144")


def test_a_changed_byte_or_another_key_fails_the_mac() -> None:
    body = bytearray(encode(sale(), DIALECT, KEY))
    body[20] ^= 1
    with pytest.raises((MacError, MessageError)):
        verify_mac(bytes(body), decode(bytes(body), DIALECT), KEY)
    good = encode(sale(), DIALECT, KEY)
    with pytest.raises(MacError, match="does not verify"):
        verify_mac(good, decode(good, DIALECT), bytes(16))
    plain = encode(sale(), DIALECT)
    with pytest.raises(MacError, match="no MAC"):
        verify_mac(plain, decode(plain, DIALECT), KEY)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({4: "12.34"}, "characters"),
        ({4: "1" * 13}, "allows 12"),
        ({2: "4" * 20}, "allows 19"),
        ({41: "TERMINAL9"}, "allows 8"),
        ({5: "1"}, "not in dialect"),
        ({55: "9F26"}, "must be bytes"),
    ],
)
def test_a_value_the_dialect_refuses_is_a_message_error(fields: dict[int, str], words: str) -> None:
    with pytest.raises(MessageError, match=words):
        encode(Message("0200", fields), DIALECT)


def test_a_wrong_length_fixed_field_is_caught_by_the_next_field() -> None:
    good = encode(Message("0210", {3: "000000", 4: "100", 39: "00"}), DIALECT)
    broken = good.replace(b"000000000100", b"0000000100")  # F4 two digits short
    with pytest.raises(MessageError):
        decode(broken, DIALECT)


def test_framing_round_trip_and_broken_frames() -> None:
    body = encode(sale(), DIALECT)
    wire = frame(body, DIALECT)
    assert wire[:2] == len(body).to_bytes(2, "big")
    assert unframe(wire + b"rest", DIALECT) == (body, b"rest")
    with pytest.raises(FrameError, match="only"):
        unframe(wire[:-1], DIALECT)
    with pytest.raises(FrameError, match="truncated"):
        unframe(b"\x00", DIALECT)


def test_a_dialect_with_a_bad_field_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bank.toml"
    path.write_text('[fields]\n4 = { format = "n" }\n')
    with pytest.raises(DialectError, match="field 4"):
        load_dialect(str(path))
    with pytest.raises(DialectError, match="does not exist"):
        load_dialect("no-such-dialect")


_NUMERIC = st.text("0123456789", min_size=1)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    fields: dict[int, str | bytes] = {}
    for number, fmt in DIALECT.fields.items():
        if number in (64, 128) or not draw(st.booleans()):
            continue
        if fmt.kind == "b":
            size = fmt.length if fmt.fixed else draw(st.integers(0, fmt.length))
            fields[number] = draw(st.binary(min_size=size, max_size=size))
        elif fmt.kind == "n":
            fields[number] = draw(st.text("0123456789", min_size=fmt.length, max_size=fmt.length))
        elif fmt.kind == "z":
            fields[number] = draw(st.text("0123456789=", max_size=fmt.length))
        elif fmt.kind == "an":
            fields[number] = draw(st.text("ABCZ019 ", min_size=fmt.length, max_size=fmt.length))
        else:
            alphabet = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
            fields[number] = draw(st.text(alphabet, min_size=fmt.length, max_size=fmt.length))
    mti = draw(st.sampled_from(["0200", "0210", "0400", "0401", "0500", "0800"]))
    return Message(mti, fields)


@given(messages(), st.booleans())
@settings(max_examples=200, deadline=None)
def test_round_trip(message: Message, with_mac: bool) -> None:
    key = KEY if with_mac else None
    body = encode(message, DIALECT, key)
    back = decode(body, DIALECT)
    assert back.mti == message.mti
    assert {n: v for n, v in back.fields.items() if n not in (64, 128)} == message.fields
    if key is not None:
        verify_mac(body, back, key)
    assert unframe(frame(body, DIALECT), DIALECT) == (body, b"")


@given(st.binary(max_size=400))
@settings(max_examples=500, deadline=None)
def test_any_bytes_decode_to_a_message_or_a_typed_error(data: bytes) -> None:
    try:
        message = decode(data, DIALECT)
    except MessageError:
        return
    assert len(message.mti) == 4


@given(messages(), st.data())
@settings(max_examples=200, deadline=None)
def test_damaged_messages_never_crash_the_decoder(message: Message, data: st.DataObject) -> None:
    body = bytearray(encode(message, DIALECT, KEY))
    index = data.draw(st.integers(0, len(body) - 1))
    body[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    for damaged in (bytes(body), bytes(body[:cut])):
        try:
            decoded = decode(damaged, DIALECT)
            verify_mac(damaged, decoded, KEY)
        except (MessageError, MacError):
            pass
