from __future__ import annotations

import base64

import pytest

from terminal.qr.cpm import parse_consumer_code
from terminal.qr.errors import CpmError

# EMVCo QRCPS consumer-presented specification's example: two applications, common data with
# PAN, name, language and a transparent template holding the cryptogram data.
EMVCO_CPM_SAMPLE = (
    "hQVDUFYwMWETTwegAAAAVVVVUAhQcm9kdWN0MWETTwegAAAAZmZmUAhQcm9kdWN0MmJJWggSNFZ4kBI0WF8gDkNB"
    "UkRIT0xERVIvRU1WXy0IcnVlc2RlZW5kIZ8QBwYBCgMAAACfJghYT9OF+iNLzJ82AgABnzcEbVjvEw=="
)


def tlv(tag: str, value: bytes) -> bytes:
    length = len(value)
    encoded = bytes([length]) if length < 0x80 else bytes([0x81, length])
    return bytes.fromhex(tag) + encoded + value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_emvco_sample_keeps_both_application_templates_in_order() -> None:
    code = parse_consumer_code(EMVCO_CPM_SAMPLE)
    assert [app.aid for app in code.applications] == ["A0000000555555", "A0000000666666"]
    assert [app.label for app in code.applications] == ["Product1", "Product2"]
    assert code.fields["61"] == [
        {"4F": "A0000000555555", "50": "50726F6475637431"},
        {"4F": "A0000000666666", "50": "50726F6475637432"},
    ]
    assert code.fields["62"]["64"]["9F26"] == "584FD385FA234BCC"


def test_card_number_is_masked_everywhere_it_is_shown() -> None:
    code = parse_consumer_code(EMVCO_CPM_SAMPLE)
    assert code.masked_pan == "123456******3458"
    assert code.fields["62"]["5A"] == "123456******3458"
    assert "1234567890123458" not in repr(code.fields)


def test_track2_in_an_application_is_masked() -> None:
    track2 = bytes.fromhex("4761739001010119D22122011143804400000F")
    data = tlv("85", b"CPV01") + tlv(
        "61", tlv("4F", bytes.fromhex("A0000000031010")) + tlv("57", track2)
    )
    code = parse_consumer_code(b64(data))
    assert code.masked_pan == "476173******0119"
    assert code.fields["61"]["57"].startswith("476173******0119D")
    assert "22122011" not in code.fields["61"]["57"]


def test_single_application_template_is_an_object() -> None:
    data = tlv("85", b"CPV01") + tlv(
        "61",
        tlv("4F", bytes.fromhex("A0000000041010"))
        + tlv("9F26", bytes(8))
        + tlv("9F27", b"\x80")
        + tlv("9F36", b"\x00\x07")
        + tlv("9F19", b"\x12\x34\x56\x78\x90\x12")
        + tlv("9F25", b"\x01\x19"),
    )
    code = parse_consumer_code(b64(data))
    assert code.fields["61"]["9F36"] == "0007"
    assert code.applications[0].tags["9F27"] == "80"


def test_missing_format_indicator() -> None:
    data = tlv("61", tlv("4F", bytes.fromhex("A0000000041010")))
    with pytest.raises(CpmError, match="tag 85"):
        parse_consumer_code(b64(data))


def test_other_format_version_is_refused() -> None:
    with pytest.raises(CpmError, match="CPV02"):
        parse_consumer_code(b64(tlv("85", b"CPV02")))


def test_no_application_template() -> None:
    with pytest.raises(CpmError, match="no application template"):
        parse_consumer_code(b64(tlv("85", b"CPV01")))


def test_application_without_aid() -> None:
    data = tlv("85", b"CPV01") + tlv("61", tlv("50", b"WALLET"))
    with pytest.raises(CpmError, match=r"application template 1 has no AID \(tag 4F\)"):
        parse_consumer_code(b64(data))


def test_malformed_tlv_says_where() -> None:
    data = tlv("85", b"CPV01") + bytes.fromhex("6110") + tlv("4F", bytes(7))
    with pytest.raises(CpmError, match=r"value of tag 61 cut short .* at byte 7"):
        parse_consumer_code(b64(data))


def test_indefinite_length_is_refused() -> None:
    data = tlv("85", b"CPV01") + bytes.fromhex("6180") + tlv("4F", bytes(7))
    with pytest.raises(CpmError, match="indefinite length is not allowed"):
        parse_consumer_code(b64(data))


def test_padding_between_objects_is_skipped() -> None:
    data = tlv("85", b"CPV01") + b"\x00\x00" + tlv("61", tlv("4F", bytes.fromhex("A0000000041010")))
    assert parse_consumer_code(b64(data)).applications[0].aid == "A0000000041010"


def test_not_base64() -> None:
    with pytest.raises(CpmError, match="not base64"):
        parse_consumer_code("hQ!! not a code")
