"""A PN532 reader on the far side of a transport that replays exact chip frames (the style of
nfcpy's own tests/test_clf_pn532.py): nfcpy's real PN532 driver and `NfcReader` run unchanged,
every command frame they write must be the next one scripted, and the scripted ACK and answer
frame come back. A command the script does not expect fails the test with both frames shown."""

from __future__ import annotations

import errno
from collections import deque
from dataclasses import dataclass, field

import nfc
import nfc.clf
import nfc.clf.pn532

ACK = bytes.fromhex("0000ff00ff00")
ERROR_FRAME = bytes.fromhex("0000ff01ff7f8100")
"""The chip's application-level error frame (syntax error): nfcpy raises Chipset.Error(0x7F)."""


def frame(tfi: int, payload_hex: str) -> bytes:
    """A PN53x information frame: preamble, LEN, LCS, TFI + data, DCS, postamble (an extended
    frame, FF FF and a two-byte LEN, from 256 bytes on)."""
    data = bytes([tfi]) + bytes.fromhex(payload_hex)
    if len(data) < 256:
        head = bytes([0, 0, 0xFF, len(data), (-len(data)) & 0xFF])
    else:
        size = len(data).to_bytes(2, "big")
        head = bytes([0, 0, 0xFF, 0xFF, 0xFF]) + size + bytes([(-sum(size)) & 0xFF])
    return head + data + bytes([(-sum(data)) & 0xFF, 0])


def command(payload_hex: str) -> bytes:
    return frame(0xD4, payload_hex)


def answer(payload_hex: str) -> bytes:
    return frame(0xD5, payload_hex)


LINE_TEST = bytes([0]) + bytes(x & 0xFF for x in range(262))
INIT: list[tuple[str, str]] = [
    ("00" + LINE_TEST.hex(), "01" + LINE_TEST.hex()),  # Diagnose: communication line test
    ("02", "03 32010607"),  # GetFirmwareVersion: PN532 v1.6
    ("12 00", "13"),  # SetParameters: no automatic RATS
    ("32 02000b0a", "33"),  # RFConfiguration: timings
    ("32 0400", "33"),
    ("32 05010001", "33"),  # one passive activation retry
    ("32 0a59f43f114d85616f266287", "33"),  # analog settings
    ("32 0b69ff3f114185616f", "33"),
    ("32 0cff0485", "33"),
    ("32 0d85158a8508b28501da", "33"),
    ("32 0102", "33"),  # field off
]
CLOSE: list[tuple[str, str]] = [("16 b000", "17 00")]  # PowerDown (after an ACK)

FIELD_OFF = ("32 0102", "33")


@dataclass
class ChipFrames:
    """The transport under `nfc.clf.pn532.Chipset`: scripted (command, answer) payload pairs.

    An answer of None makes the chip stay silent (nfcpy times out and cancels with an ACK);
    raw bytes are sent as they are (an error frame, a frame with a broken checksum).
    """

    TYPE = "USB"
    manufacturer_name = "NXP"
    product_name = "PN532 (replayed frames)"
    script: deque[tuple[bytes, bytes | None]] = field(default_factory=deque)
    written: list[bytes] = field(default_factory=list)
    pending: deque[bytes] = field(default_factory=deque)

    def expect(self, *steps: tuple[str, str | bytes | None]) -> None:
        for payload, reply in steps:
            if isinstance(reply, str):
                self.script.append((command(payload), answer(reply)))
            else:
                self.script.append((command(payload), reply))

    def write(self, data: bytes | bytearray) -> None:
        data = bytes(data)
        self.written.append(data)
        if data == ACK:  # nfcpy cancels a command it gave up on
            self.pending.clear()
            return
        assert self.script, f"unscripted command {data.hex()}"
        expected, reply = self.script.popleft()
        assert data == expected, f"chip got {data.hex()}, script expects {expected.hex()}"
        self.pending.clear()
        if reply is not None:
            self.pending.extend([ACK, reply])
        else:
            self.pending.append(ACK)

    def read(self, timeout: int = 0) -> bytearray:
        if not self.pending:
            raise OSError(errno.ETIMEDOUT, "timeout")
        return bytearray(self.pending.popleft())

    def close(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return not self.script


def pn532_frontend(chip: ChipFrames) -> nfc.ContactlessFrontend:
    """nfcpy's ContactlessFrontend over nfcpy's PN532 driver, initialised through `chip`."""
    chip.expect(*INIT)
    chipset = nfc.clf.pn532.Chipset(chip, logger=nfc.clf.pn532.log)
    device = nfc.clf.pn532.Device(chipset, logger=nfc.clf.pn532.log)
    device._path = "usb:replayed"
    assert chip.done
    clf = nfc.ContactlessFrontend()
    clf.device = device
    return clf
