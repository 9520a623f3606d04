"""BER-TLV as EMV cards speak it (EMV Book 3 annex B), as pure functions.

Decoding keeps repeated tags in order (a PPSE answer holds several `61` templates), skips the
00/FF padding allowed between objects, parses constructed objects (tag bit 0x20) into their
children and raises `TlvError` with the offset for anything malformed: a truncated tag or
value, an indefinite or over-long length, a tag longer than four bytes, or nesting deeper than
`max_depth`. Tags are upper-case hex strings ("9F26"), the form PROTOCOL.md carries.

One reader, `scan`, does it all in a single loop: the kernel takes its flat views (first
template, primitives, groups) between two card commands, `decode` asks it for the tree.
`tests/unit/emv/reference_tlv.py` is a plain recursive reader it is checked against.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from terminal.emv.errors import TlvError

MAX_DEPTH = 8
"""EMV templates nest four deep at most (6F > A5 > BF0C > 61); 8 leaves room, stops bombs."""
_MAX_TAG_BYTES = 4
_MAX_LENGTH_BYTES = 3


class Tlv(NamedTuple):
    """One data object: primitive (`value`) or constructed (`children`, value re-encoded).

    A named tuple rather than a dataclass: the kernel builds dozens per tap and tuples are
    several times cheaper to create."""

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
    return tag[:1] in _CONSTRUCTED_FIRST_DIGITS


_CONSTRUCTED_FIRST_DIGITS = frozenset("2367ABEF")  # first hex digit with bit 0x20 set
_ONE_BYTE_TAGS = tuple(f"{byte:02X}" for byte in range(256))
_TWO_BYTE_TAGS = {
    first << 8 | second: f"{first:02X}{second:02X}"
    for first in range(256)
    if first & 0x1F == 0x1F
    for second in range(0x80)
}
"""EMV tags are one or two bytes: their text is looked up, not formatted, per object read."""


def _multi_byte_tag(data: bytes, start: int, end: int) -> tuple[str, int]:
    """A tag whose first byte says more follow (low five bits set): its text and the offset
    after it. One- and two-byte tags are looked up, longer ones formatted."""
    pos = start + 1
    while True:
        if pos >= end:
            raise TlvError("tag cut short", start)
        byte = data[pos]
        pos += 1
        if pos - start > _MAX_TAG_BYTES:
            raise TlvError("tag longer than four bytes", start)
        if not byte & 0x80:
            break
    if pos - start == 2:
        return _TWO_BYTE_TAGS[data[start] << 8 | data[start + 1]], pos
    return data[start:pos].hex().upper(), pos


def decode(data: bytes, *, max_depth: int = MAX_DEPTH) -> list[Tlv]:
    """All objects in `data`, in order, constructed ones parsed into children."""
    return scan(data, max_depth=max_depth, tree=True).objects


class Scan(NamedTuple):
    """A card answer read in one pass: flat views for the kernel, the object tree on request."""

    first: str
    """Tag of the first object ("" for an empty answer): the template the answer is."""
    primitives: dict[str, bytes]
    """Primitive objects anywhere, by tag, the first occurrence winning (as `primitives`)."""
    templates: list[str]
    """Tags of the constructed objects, depth-first (as `walk` meets them)."""
    groups: list[dict[str, bytes]]
    """The primitives inside each template tagged one of `groups`, in order (a PPSE answer's
    `61` entries); a template of those tags nested in another belongs to the outer one."""
    objects: list[Tlv]
    """The objects as a tree (`decode`); empty unless asked for with `tree=True`."""


def scan(
    data: bytes, groups: tuple[str, ...] = (), *, max_depth: int = MAX_DEPTH, tree: bool = False
) -> Scan:
    """Read and check `data` in one pass over the caller's buffer.

    Error offsets point into `data`. The kernel reads every card answer between two commands
    while the card waits in the field, so this is one loop without a call or an object per
    data object unless the tree is asked for.
    """
    data = bytes(data)
    first_tag = ""
    found: dict[str, bytes] = {}
    templates: list[str] = []
    grouped: list[dict[str, bytes]] = []
    # Enclosing templates, innermost last: their end, group, siblings list, tag and value.
    opened: list[tuple[int, dict[str, bytes] | None, list[Tlv], str, bytes]] = []
    group: dict[str, bytes] | None = None
    top: list[Tlv] = []
    siblings = top
    pos, end = 0, len(data)
    while True:
        if pos >= end:
            if not opened:
                return Scan(first_tag, found, templates, grouped, top)
            end, group, parent, tag, value = opened.pop()
            if tree:
                parent.append(Tlv(tag, value, tuple(siblings)))
            siblings = parent
            continue
        first = data[pos]
        if first == 0x00 or first == 0xFF:
            pos += 1
            continue
        start = pos
        if first & 0x1F == 0x1F:
            tag, pos = _multi_byte_tag(data, start, end)
        else:
            tag = _ONE_BYTE_TAGS[first]
            pos += 1
        if pos >= end:
            raise TlvError("length missing", pos)
        length = data[pos]
        pos += 1
        if length >= 0x80:
            count = length & 0x7F
            if count == 0:
                raise TlvError("indefinite length is not allowed in EMV", pos - 1)
            if count > _MAX_LENGTH_BYTES:
                raise TlvError(f"length of {count} bytes is not allowed", pos - 1)
            if pos + count > end:
                raise TlvError("length cut short", pos - 1)
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + length > end:
            raise TlvError(f"value of tag {tag} cut short ({length} bytes announced)", start)
        first_tag = first_tag or tag
        if first & 0x20:
            if len(opened) >= max_depth:
                raise TlvError("templates nested too deep", pos)
            templates.append(tag)
            opened.append((end, group, siblings, tag, data[pos : pos + length] if tree else b""))
            if tree:
                siblings = []
            end = pos + length
            if group is None and tag in groups:
                group = {}
                grouped.append(group)
            continue
        value = data[pos : pos + length]
        pos += length
        if tag not in found:
            found[tag] = value
        if group is not None and tag not in group:
            group[tag] = value
        if tree:
            siblings.append(Tlv(tag, value))


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


def find_all(objects: Sequence[Tlv], tag: str) -> list[Tlv]:
    """Every object with `tag`, in `walk` order."""
    found: list[Tlv] = []
    _collect(objects, tag, found)
    return found


def _collect(objects: Sequence[Tlv], tag: str, found: list[Tlv]) -> None:
    for obj in objects:
        if obj.tag == tag:
            found.append(obj)
        if obj.children:
            _collect(obj.children, tag, found)


def primitives(objects: Sequence[Tlv]) -> dict[str, bytes]:
    """Primitive objects by tag, the first occurrence winning (for card data, not for lists)."""
    found: dict[str, bytes] = {}
    _collect_primitives(objects, found)
    return found


def _collect_primitives(objects: Sequence[Tlv], found: dict[str, bytes]) -> None:
    # Depth-first like `walk`, without a generator per level (this runs on every answer).
    for obj in objects:
        if obj.children:
            _collect_primitives(obj.children, found)
        elif obj.tag[:1] not in _CONSTRUCTED_FIRST_DIGITS and obj.tag not in found:
            found[obj.tag] = obj.value


def parse_dol(data: bytes) -> list[tuple[str, int]]:
    """A data object list (PDOL 9F38, CDOL 8C): tags with the lengths asked, no values."""
    items: list[tuple[str, int]] = []
    pos, end = 0, len(data)
    while pos < end:
        first = data[pos]
        if first & 0x1F != 0x1F:
            tag = _ONE_BYTE_TAGS[first]
            pos += 1
        else:
            tag, pos = _multi_byte_tag(data, pos, end)
        if pos >= end:
            raise TlvError(f"length of {tag} missing in data object list", pos)
        items.append((tag, data[pos]))
        pos += 1
    return items
