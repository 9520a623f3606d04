"""The bad input the issue lists, each with what the operator or technician is told."""

from __future__ import annotations

import pytest

from terminal.qr.crc import with_crc
from terminal.qr.errors import CrcError, PayloadSyntaxError, RuleError
from terminal.qr.mpm import parse_merchant_code, read_merchant_code

from .vectors import EMVCO_SAMPLE, PIX_BCB_EXAMPLE

BODY = PIX_BCB_EXAMPLE[:-8]


def tlv(field_id: str, value: str) -> str:
    return f"{field_id}{len(value):02d}{value}"


def messages(code_text: str, *, strict: bool = True) -> list[str]:
    return read_merchant_code(code_text).errors(strict=strict)


def test_wrong_crc_is_refused_even_leniently() -> None:
    tampered = PIX_BCB_EXAMPLE[:-4] + "1D3E"
    code = read_merchant_code(tampered)
    assert not code.crc_ok
    assert "63: checksum 1D3E does not match the payload (computed 1D3D)" in code.errors(
        strict=False
    )
    with pytest.raises(CrcError, match="damaged or altered"):
        parse_merchant_code(tampered)


def test_changed_amount_is_caught_by_the_crc() -> None:
    tampered = EMVCO_SAMPLE.replace("540523.72", "540593.72")
    with pytest.raises(CrcError):
        parse_merchant_code(tampered)


def test_lower_case_crc_is_a_warning_leniently_and_an_error_strictly() -> None:
    lower = PIX_BCB_EXAMPLE[:-4] + "1d3d"
    code = read_merchant_code(lower)
    assert code.crc_ok
    assert code.errors(strict=False) == []
    assert code.warnings(strict=False) == ["63: checksum written in lower-case hex"]
    assert parse_merchant_code(lower).merchant_name == "Fulano de Tal"
    with pytest.raises(RuleError, match="63: checksum written in lower-case hex"):
        parse_merchant_code(lower, strict=True)


def test_missing_crc_is_refused() -> None:
    code = read_merchant_code(BODY)
    assert not code.crc_ok
    assert any(m.startswith("63: missing") for m in code.errors(strict=False))
    with pytest.raises(CrcError):
        parse_merchant_code(BODY)


def test_crc_not_last_is_refused() -> None:
    text = with_crc(BODY) + "9902AB"
    code = read_merchant_code(text)
    assert not code.crc_ok
    assert "63: not the last field: what follows is not checksummed" in code.errors(strict=False)
    with pytest.raises(CrcError):
        parse_merchant_code(text)


def test_length_running_past_the_end_names_the_field_and_position() -> None:
    with pytest.raises(PayloadSyntaxError) as caught:
        read_merchant_code("000201" + "5920SHORT")
    assert caught.value.field_id == "59"
    assert caught.value.position == 8
    assert "length 20 runs past the end (5 character(s) left)" in caught.value.sentence


def test_non_digit_length_is_a_syntax_error() -> None:
    with pytest.raises(PayloadSyntaxError, match=r"59: length 'x5' is not two digits"):
        read_merchant_code("00020159x5HELLO")


def test_non_digit_id_is_a_syntax_error() -> None:
    with pytest.raises(PayloadSyntaxError, match="ID 'A0' is not two digits"):
        read_merchant_code("000201A00101")


def test_unicode_digits_are_not_digits() -> None:
    with pytest.raises(PayloadSyntaxError):
        read_merchant_code("0002015٩04ABCD")


def test_broken_template_inside_points_into_the_template() -> None:
    text = with_crc("000201" + "62080599ABCD" + "5802BR")
    code = read_merchant_code(text)
    assert code.fields["62"] == "0599ABCD"
    assert any(m.startswith("62: not a valid template") for m in code.errors(strict=False))


def test_duplicate_ids_are_an_error_and_the_first_value_is_kept() -> None:
    text = with_crc(BODY.replace("6008BRASILIA", "6008BRASILIA6005OTHER"))
    code = read_merchant_code(text)
    assert code.crc_ok
    assert code.merchant_city == "BRASILIA"
    assert "60: appears more than once" in code.errors(strict=False)
    assert "60: kept the first of several values" in code.warnings(strict=False)


def test_duplicate_sub_ids_inside_a_template() -> None:
    text = with_crc(BODY.replace("62070503***", "62140503***0503abc"))
    assert "62/05: appears more than once" in messages(text)


def test_amount_with_too_many_decimals_for_the_currency() -> None:
    text = with_crc(BODY.replace("5802BR", "540610.0015802BR"))
    assert "54: 3 decimals, but BRL (986) has 2" in messages(text, strict=False)
    assert read_merchant_code(text).amount is None


def test_amount_with_decimals_for_yen() -> None:
    text = with_crc(BODY.replace("5303986", "5303392").replace("5802BR", "54041.505802BR"))
    assert "54: 2 decimals, but JPY (392) has 0" in messages(text)


def test_amount_that_is_not_a_number() -> None:
    text = with_crc(BODY.replace("5802BR", "54051,2345802BR"))
    assert "54: not a decimal amount like 23.72: '1,234'" in messages(text)


def test_unknown_currency() -> None:
    text = with_crc(BODY.replace("5303986", "5303999"))
    assert "53: unknown currency 999" in messages(text, strict=False)


def test_alpha_currency_is_refused() -> None:
    text = with_crc(BODY.replace("5303986", "5303BRL"))
    assert "53: must be a 3-digit ISO 4217 numeric code, not 'BRL'" in messages(text)


def test_over_long_name_and_city_are_tolerated_with_warnings() -> None:
    text = with_crc(
        BODY.replace("5913Fulano de Tal", tlv("59", "PADARIA E CONFEITARIA BOM PAO")).replace(
            "6008BRASILIA", tlv("60", "SAO JOSE DOS CAMPOS")
        )
    )
    code = parse_merchant_code(text)  # lenient: readable
    assert code.merchant_name == "PADARIA E CONFEITARIA BOM PAO"
    assert code.errors(strict=False) == []
    assert set(code.warnings(strict=False)) == {
        "59: longer than 25 characters",
        "60: longer than 15 characters",
    }
    with pytest.raises(RuleError) as caught:
        parse_merchant_code(text, strict=True)
    assert [str(p) for p in caught.value.problems] == [
        "59: longer than 25 characters",
        "60: longer than 15 characters",
    ]


def test_emoji_name_counts_code_points_and_is_tolerated() -> None:
    text = with_crc(BODY.replace("5913Fulano de Tal", "5910CAFÉ ☕🥐 OK"))
    code = parse_merchant_code(text)
    assert code.merchant_name == "CAFÉ ☕🥐 OK"
    assert code.warnings(strict=False) == ["59: characters outside the EMVCo common character set"]


def test_missing_mandatory_tags_are_tolerated_leniently() -> None:
    text = with_crc(BODY.replace("52040000", "").replace("5802BR", ""))
    code = parse_merchant_code(text)
    assert code.errors(strict=False) == []
    assert "52: missing (mandatory merchant category code)" in code.warnings(strict=False)
    assert "58: missing (mandatory country code)" in code.warnings(strict=False)


def test_strict_validator_lists_every_broken_rule_by_id() -> None:
    text = with_crc(
        "000201"
        "010213"
        "520412AB"
        "5303978"
        "5404x.yz"
        "5802de"
        "5903ABC"
        "6003XYZ" + tlv("62", tlv("05", "ABCDEFGHIJKLMNOPQRSTUVWXYZ1234"))
    )
    found = [m.split(":")[0] for m in messages(text)]
    assert found == ["26", "01", "52", "54", "58", "62/05"]


def test_payload_format_indicator_must_come_first() -> None:
    text = with_crc("5204000000020153039865802BR5903ABC6003XYZ26080004test")
    assert "00: not the first field" in messages(text, strict=False)


def test_empty_text_is_a_syntax_error() -> None:
    with pytest.raises(PayloadSyntaxError, match="empty"):
        read_merchant_code("   ")


def test_surrounding_whitespace_is_removed_with_a_note() -> None:
    code = parse_merchant_code(PIX_BCB_EXAMPLE + "\r\n")
    assert "surrounding whitespace removed" in code.warnings(strict=False)
