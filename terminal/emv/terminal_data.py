"""What the terminal tells the card: the transaction data that fills PDOL and CDOL requests.

The card computes its cryptogram over exactly these values, so the same bytes go into the
`emv` data sent to the issuer (PROTOCOL.md), which recomputes the cryptogram from them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from terminal.emv.tlv import parse_dol
from terminal.money import Amount

PURCHASE = 0x00
REFUND = 0x20

# Terminal Transaction Qualifiers (9F66), Visa/EMVCo Book C-3 layout.
TTQ_EMV_MODE = 0x20  # byte 1 b6: EMV (qVSDC) mode supported
TTQ_ONLINE_CRYPTOGRAM = 0x80  # byte 2 b8: online cryptogram required
TTQ_CVM_REQUIRED = 0x40  # byte 2 b7: CVM required (amount above the CVM limit)
TTQ_CDCVM_SUPPORTED = 0x40  # byte 3 b7: consumer device CVM supported

TERMINAL_TAGS = ("9F66", "9F02", "9F03", "9F1A", "5F2A", "95", "9A", "9C", "9F37")
"""Tags the terminal supplies, always reported to the issuer whether or not the card asked."""


def bcd(number: int, length: int) -> bytes:
    """`number` as `length` bytes of packed BCD (EMV format n)."""
    digits = f"{number:0{length * 2}d}"
    if len(digits) > length * 2:
        raise ValueError(f"{number} does not fit in {length} BCD bytes")
    return bytes.fromhex(digits)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One sale as the card sees it."""

    amount: Amount
    country_numeric: str
    """ISO 3166 numeric code of the terminal's country, e.g. "276"."""
    type: int = PURCHASE
    when: datetime = field(default_factory=lambda: datetime.now(UTC))
    unpredictable_number: bytes = field(default_factory=lambda: secrets.token_bytes(4))
    cvm_required: bool = False

    @property
    def today(self) -> date:
        return self.when.date()

    def terminal_values(self) -> dict[str, bytes]:
        """Tag -> value of everything the terminal can supply."""
        ttq = bytes(
            [
                TTQ_EMV_MODE,
                TTQ_ONLINE_CRYPTOGRAM | (TTQ_CVM_REQUIRED if self.cvm_required else 0),
                TTQ_CDCVM_SUPPORTED,
                0x00,
            ]
        )
        return {
            "9F66": ttq,
            "9F02": bcd(self.amount.minor, 6),
            "9F03": bytes(6),
            "9F1A": bcd(int(self.country_numeric), 2),
            "5F2A": bcd(int(self.amount.currency.numeric), 2),
            "95": bytes(5),
            "9A": bcd(self.when.year % 100, 1) + bcd(self.when.month, 1) + bcd(self.when.day, 1),
            "9C": bytes([self.type]),
            "9F37": self.unpredictable_number,
            "9F35": b"\x22",  # terminal type: attended, merchant, online and offline
            "9F40": b"\x60\x00\x00\x00\x00",  # additional capabilities: goods, services
            "9F33": b"\x00\x08\xc8",  # capabilities: no PIN, no signature, no CVM ok
        }


def fill_dol(dol: bytes, values: Mapping[str, bytes]) -> tuple[bytes, dict[str, bytes]]:
    """The values a PDOL/CDOL asks for, in its order, and what was sent for each tag.

    Known values are cut or left-padded with zeros to the length asked (EMV Book 3 5.4);
    unknown tags get zeros.
    """
    out = bytearray()
    sent: dict[str, bytes] = {}
    for tag, length in parse_dol(dol):
        value = values.get(tag)
        if value is None:
            value = bytes(length)
        elif len(value) != length:
            value = value[:length] if len(value) > length else bytes(length - len(value)) + value
        out += value
        sent[tag] = value
    return bytes(out), sent
