"""BER-TLV as EMV cards speak it (EMV Book 3 annex B), as pure functions.

Decoding keeps repeated tags in order (a PPSE answer holds several `61` templates), skips the
00/FF padding allowed between objects, parses constructed objects (tag bit 0x20) into their
children and raises `TlvError` with the offset for anything malformed: a truncated tag or
value, an indefinite or over-long length, a tag longer than four bytes, or nesting deeper than
`max_depth`. Tags are upper-case hex strings ("9F26"), the form PROTOCOL.md carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from terminal.emv.errors import TlvError

MAX_DEPTH = 8
"""EMV templates nest four deep at most (6F > A5 > BF0C > 61); 8 leaves room, stops bombs."""
_MAX_TAG_BYTES = 4
_MAX_LENGTH_BYTES = 3


@dataclass(frozen=True, slots=True)
class Tlv:
    """One data object: primitive (`value`) or constructed (`children`, value re-encoded)."""

    tag: str
    value: bytes = b""
    children: tuple[Tlv, ...] = ()

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    @staticmethod
    def build(tag: str, *content: Tlv | bytes) -> Tlv:
        """A primitive object from bytes, or a constructed one from child objects."""
        tag = tag.upper()
        if is_constructed(tag):
            children = tuple(c for c in content if isinstance(c, Tlv))
            return Tlv(tag, encode(children), children)
        return Tlv(tag, b"".join(c for c in content if isinstance(c, bytes)))


def is_constructed(tag: str) -> bool:
    return bool(int(tag[:2], 16) & 0x20)


def _read_tag(data: bytes, pos: int) -> tuple[str, int]:
    start = pos
    first = data[pos]
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise TlvError("tag cut short", start)
            byte = data[pos]
            pos += 1
            if pos - start > _MAX_TAG_BYTES:
                raise TlvError("tag longer than four bytes", start)
            if not byte & 0x80:
                break
    return data[start:pos].hex().upper(), pos


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TlvError("length missing", pos)
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0:
        raise TlvError("indefinite length is not allowed in EMV", pos)
    if count > _MAX_LENGTH_BYTES:
        raise TlvError(f"length of {count} bytes is not allowed", pos)
    if pos + 1 + count > len(data):
        raise TlvError("length cut short", pos)
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def decode(data: bytes, *, max_depth: int = MAX_DEPTH) -> list[Tlv]:
    """All objects in `data`, in order, constructed ones parsed into children."""
    return _decode(bytes(data), 0, len(data), max_depth, 0)


def _decode(data: bytes, pos: int, end: int, max_depth: int, base: int) -> list[Tlv]:
    if max_depth < 0:
        raise TlvError("templates nested too deep", base + pos)
    objects: list[Tlv] = []
    view = data[:end]
    while pos < end:
        if view[pos] in (0x00, 0xFF):
            pos += 1
            continue
        start = pos
        try:
            tag, pos = _read_tag(view, pos)
            length, pos = _read_length(view, pos)
        except TlvError as error:
            raise TlvError(error.reason, base + error.offset) from None
        if pos + length > end:
            raise TlvError(f"value of tag {tag} cut short ({length} bytes announced)", base + start)
        value = view[pos : pos + length]
        if is_constructed(tag):
            children = tuple(_decode(value, 0, length, max_depth - 1, base + pos))
            objects.append(Tlv(tag, value, children))
        else:
            objects.append(Tlv(tag, value))
        pos += length
    return objects


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    size = (length.bit_length() + 7) // 8
    if size > _MAX_LENGTH_BYTES:
        raise ValueError(f"value of {length} bytes is too long for EMV")
    return bytes([0x80 | size]) + length.to_bytes(size, "big")


def encode_one(obj: Tlv) -> bytes:
    value = encode(obj.children) if obj.children else obj.value
    return bytes.fromhex(obj.tag) + encode_length(len(value)) + value


def encode(objects: Iterable[Tlv]) -> bytes:
    return b"".join(encode_one(o) for o in objects)


def walk(objects: Sequence[Tlv]) -> Iterator[Tlv]:
    """Every object depth-first, templates before their content."""
    for obj in objects:
        yield obj
        if obj.children:
            yield from walk(obj.children)


def find(objects: Sequence[Tlv], tag: str) -> Tlv | None:
    """The first object with `tag` anywhere in the tree."""
    return next((o for o in walk(objects) if o.tag == tag), None)


def find_all(objects: Sequence[Tlv], tag: str) -> list[Tlv]:
    return [o for o in walk(objects) if o.tag == tag]


def primitives(objects: Sequence[Tlv]) -> dict[str, bytes]:
    """Primitive objects by tag, the first occurrence winning (for card data, not for lists)."""
    found: dict[str, bytes] = {}
    for obj in walk(objects):
        if not obj.constructed:
            found.setdefault(obj.tag, obj.value)
    return found


def parse_dol(data: bytes) -> list[tuple[str, int]]:
    """A data object list (PDOL 9F38, CDOL 8C): tags with the lengths asked, no values."""
    items: list[tuple[str, int]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _read_tag(data, pos)
        if pos >= len(data):
            raise TlvError(f"length of {tag} missing in data object list", pos)
        items.append((tag, data[pos]))
        pos += 1
    return items
