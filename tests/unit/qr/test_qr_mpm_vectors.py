from __future__ import annotations

from terminal.money import Amount
from terminal.qr.mpm import parse_merchant_code, read_merchant_code

from .vectors import EMVCO_SAMPLE, PIX_BCB_EXAMPLE


def test_pix_example_reads_strictly_with_its_key_and_reference() -> None:
    code = parse_merchant_code(PIX_BCB_EXAMPLE, strict=True)
    assert code.crc_ok
    assert code.fields["26"] == {
        "00": "br.gov.bcb.pix",
        "01": "123e4567-e12b-12d1-a456-426655440000",
    }
    assert code.merchant_name == "Fulano de Tal"
    assert code.merchant_city == "BRASILIA"
    assert code.reference_label == "***"
    assert code.amount is None
    assert not code.dynamic


def test_emvco_sample_reads_strictly_with_chinese_language_template() -> None:
    code = parse_merchant_code(EMVCO_SAMPLE, strict=True)
    assert code.dynamic
    assert code.amount == Amount.of(2372, "CNY")
    assert code.fields["64"] == {"00": "ZH", "01": "最佳运输", "02": "北京"}
    assert code.fields["62"] == {"03": "1234", "06": "***", "07": "A6008667", "09": "ME"}
    assert code.fields["29"] == {"00": "D15600000000", "05": "A93FO3230Q"}
    assert code.fields["91"] == {"00": "A011223344998877", "07": "12345678"}
    assert code.terminal_label == "A6008667"


def test_lengths_count_characters_not_bytes() -> None:
    code = read_merchant_code(EMVCO_SAMPLE)
    value = code.fields["64"]
    assert isinstance(value, dict) and len(value["01"]) == 4
    assert len(value["01"].encode("utf-8")) == 12
    assert code.problems == ()
