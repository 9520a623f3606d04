"""A plain recursive BER-TLV reader, the oracle for `terminal.emv.tlv.scan`.

Written for reading, not speed: one function per template level, the same rules and error
sentences as the kernel's one-pass loop (EMV Book 3 annex B)."""

from __future__ import annotations

from terminal.emv.errors import TlvError
from terminal.emv.tlv import MAX_DEPTH, Tlv


def reference_decode(data: bytes, max_depth: int = MAX_DEPTH) -> list[Tlv]:
    return _level(bytes(data), 0, len(data), max_depth)


def _level(data: bytes, pos: int, end: int, depth_left: int) -> list[Tlv]:
    if depth_left < 0:
        raise TlvError("templates nested too deep", pos)
    objects: list[Tlv] = []
    while pos < end:
        if data[pos] in (0x00, 0xFF):
            pos += 1
            continue
        start = pos
        tag, pos = _tag(data, pos, end)
        length, pos = _length(data, pos, end)
        if pos + length > end:
            raise TlvError(f"value of tag {tag} cut short ({length} bytes announced)", start)
        value = data[pos : pos + length]
        if data[start] & 0x20:
            objects.append(Tlv(tag, value, tuple(_level(data, pos, pos + length, depth_left - 1))))
        else:
            objects.append(Tlv(tag, value))
        pos += length
    return objects


def _tag(data: bytes, pos: int, end: int) -> tuple[str, int]:
    start = pos
    pos += 1
    if data[start] & 0x1F == 0x1F:
        while True:
            if pos >= end:
                raise TlvError("tag cut short", start)
            pos += 1
            if pos - start > 4:
                raise TlvError("tag longer than four bytes", start)
            if not data[pos - 1] & 0x80:
                break
    return data[start:pos].hex().upper(), pos


def _length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise TlvError("length missing", pos)
    length = data[pos]
    if length < 0x80:
        return length, pos + 1
    count = length & 0x7F
    if count == 0:
        raise TlvError("indefinite length is not allowed in EMV", pos)
    if count > 3:
        raise TlvError(f"length of {count} bytes is not allowed", pos)
    if pos + 1 + count > end:
        raise TlvError("length cut short", pos)
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count
