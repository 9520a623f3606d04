from __future__ import annotations

from terminal.qr.crc import crc_hex, with_crc

from .vectors import EMVCO_SAMPLE, PIX_BCB_EXAMPLE


def test_check_value_of_the_algorithm() -> None:
    assert crc_hex("123456789") == "29B1"


def test_pix_example_checksum_is_1d3d() -> None:
    assert crc_hex(PIX_BCB_EXAMPLE[:-4]) == "1D3D"


def test_emvco_sample_checksum_is_a13a_over_utf8_bytes() -> None:
    assert crc_hex(EMVCO_SAMPLE[:-4]) == "A13A"


def test_with_crc_appends_id_63_and_covers_it() -> None:
    assert with_crc(PIX_BCB_EXAMPLE[:-8]) == PIX_BCB_EXAMPLE
