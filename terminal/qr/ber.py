"""The BER-TLV reading the consumer-presented parser needs, behind one small interface.

The EMV BER-TLV codec belongs in `terminal/emv/tlv.py` (the contactless kernel's); until it is
on main this module keeps a minimal reader with the same rules so `cpm.py` depends only on
`read_ber` and `BerObject`. Rules (FACTS.md): multi-byte tags when the low five bits are all
set, lengths of one byte or 81/82/83/84 + N bytes (80 and 85-FF refused), 00/FF padding between
objects skipped, repeated tags kept in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from terminal.qr.errors import CpmError

MAX_DEPTH = 8
"""Templates nest a few levels deep in practice; deeper input is refused, not recursed into."""


@dataclass(frozen=True, slots=True)
class BerObject:
    """One tag with its value; constructed tags also carry their children in order."""

    tag: str
    """Upper-case hex, e.g. "9F26"."""
    value: bytes
    children: tuple[BerObject, ...] | None = None
    """None for a primitive tag."""

    @property
    def constructed(self) -> bool:
        return self.children is not None


def read_ber(data: bytes) -> list[BerObject]:
    """Every object in `data`; raises `CpmError` with the byte offset where it breaks."""
    return _read(data, 0, 0)


def _read(data: bytes, base: int, depth: int) -> list[BerObject]:
    if depth > MAX_DEPTH:
        raise CpmError(f"templates nested more than {MAX_DEPTH} deep (at byte {base})")
    objects: list[BerObject] = []
    index = 0
    while index < len(data):
        if data[index] in (0x00, 0xFF):
            index += 1
            continue
        start = index
        first = data[index]
        index += 1
        if first & 0x1F == 0x1F:
            while True:
                if index >= len(data):
                    raise CpmError(f"tag cut short at byte {base + start}")
                more = data[index] & 0x80
                index += 1
                if not more:
                    break
                if index - start > 4:
                    raise CpmError(f"tag longer than 4 bytes at byte {base + start}")
        tag = data[start:index].hex().upper()
        if index >= len(data):
            raise CpmError(f"tag {tag} has no length (byte {base + start})")
        length_byte = data[index]
        index += 1
        if length_byte < 0x80:
            length = length_byte
        elif 0x81 <= length_byte <= 0x84:
            count = length_byte - 0x80
            if index + count > len(data):
                raise CpmError(f"tag {tag}: length cut short (byte {base + index})")
            length = int.from_bytes(data[index : index + count], "big")
            index += count
        else:
            raise CpmError(
                f"tag {tag}: invalid length byte {length_byte:02X} (byte {base + index - 1})"
            )
        end = index + length
        if end > len(data):
            raise CpmError(
                f"tag {tag}: length {length} runs past the end ({len(data) - index} bytes left)"
            )
        value = data[index:end]
        children = _read(value, base + index, depth + 1) if first & 0x20 else None
        objects.append(BerObject(tag, value, tuple(children) if children is not None else None))
        index = end
    return objects
