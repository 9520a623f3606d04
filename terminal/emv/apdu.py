"""Command APDUs of a contactless payment and the status-word handling around them.

`exchange` sends one command through a `drivers.base.Card` and returns the data with the final
status word, following ISO 7816-4's "61XX: more data, GET RESPONSE" and "6CXX: wrong Le,
repeat with Le=XX" rules a bounded number of times, so a misbehaving card cannot keep the
terminal in a loop.
"""

from __future__ import annotations

from typing import NamedTuple

from drivers.base import Card
from terminal.emv.errors import CardDataError

PPSE_NAME = b"2PAY.SYS.DDF01"
_MAX_GET_RESPONSE = 16

SW_OK = 0x9000
SW_FILE_INVALIDATED = 0x6283
SW_WRONG_LENGTH = 0x6700
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_DATA_INVALIDATED = 0x6984
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83


class Response(NamedTuple):
    """Data and final status word of one command (a named tuple: several per tap)."""

    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK


def select(name: bytes) -> bytes:
    """SELECT by DF name (PPSE or an AID), first or only occurrence."""
    return bytes([0x00, 0xA4, 0x04, 0x00, len(name)]) + name + b"\x00"


def _lc(data: bytes, command: str) -> int:
    if len(data) > 255:
        raise CardDataError(f"{command}: the card asks for {len(data)} bytes of terminal data")
    return len(data)


def get_processing_options(pdol_values: bytes) -> bytes:
    _lc(pdol_values + b"\x83\x00", "GET PROCESSING OPTIONS")
    data = b"\x83" + bytes([len(pdol_values)]) + pdol_values
    return bytes([0x80, 0xA8, 0x00, 0x00, len(data)]) + data + b"\x00"


def read_record(sfi: int, record: int) -> bytes:
    return bytes([0x00, 0xB2, record, (sfi << 3) | 0x04, 0x00])


def generate_ac_arqc(cdol_values: bytes) -> bytes:
    """GENERATE AC asking for an ARQC (online authorisation)."""
    return bytes([0x80, 0xAE, 0x80, 0x00, _lc(cdol_values, "GENERATE AC")]) + cdol_values + b"\x00"


def _split(raw: bytes, command: str) -> Response:
    if len(raw) < 2:
        raise CardDataError(f"{command}: answer of {len(raw)} bytes has no status word")
    return Response(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


def exchange(card: Card, apdu: bytes, command: str) -> Response:
    """Send `apdu`, follow 61XX and 6CXX, and return the data and the final status word."""
    raw = card.transceive(apdu)
    if raw[-2:] == b"\x90\x00":  # the usual answer, without a call: time in the field (kernel.py)
        return Response(bytes(raw[:-2]), SW_OK)
    response = _split(raw, command)
    if response.sw >> 8 == 0x6C and len(apdu) >= 5:
        response = _split(card.transceive(apdu[:-1] + bytes([response.sw & 0xFF])), command)
    data = response.data
    for _ in range(_MAX_GET_RESPONSE):
        if response.sw >> 8 != 0x61:
            return Response(data, response.sw)
        response = _split(
            card.transceive(bytes([0x00, 0xC0, 0x00, 0x00, response.sw & 0xFF])), command
        )
        data += response.data
    raise CardDataError(f"{command}: the card kept announcing more data")
