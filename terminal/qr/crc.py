"""CRC-16/CCITT-FALSE, the checksum in ID 63 of every EMVCo merchant-presented code.

Polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR, computed over the UTF-8
bytes of the payload up to and including "6304". `binascii.crc_hqx` is exactly this algorithm
(check value of "123456789": 29B1), so nothing is hand-rolled here.
"""

from __future__ import annotations

import binascii

CRC_PREFIX = "6304"
"""ID 63 with length 04: part of the checksummed text."""


def crc16_ccitt_false(text: str) -> int:
    """The checksum of `text` (encoded as UTF-8)."""
    return binascii.crc_hqx(text.encode("utf-8", "surrogatepass"), 0xFFFF)


def crc_hex(text: str) -> str:
    """The checksum as EMVCo writes it: four upper-case hex digits."""
    return f"{crc16_ccitt_false(text):04X}"


def with_crc(body: str) -> str:
    """`body` (everything before ID 63) followed by "6304" and its checksum."""
    covered = body + CRC_PREFIX
    return covered + crc_hex(covered)
