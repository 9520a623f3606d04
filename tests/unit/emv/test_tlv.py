"""BER-TLV as EMV cards send it: examples from real answers, bad input, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.emv import tlv
from terminal.emv.errors import TlvError
from terminal.emv.tlv import Tlv

from .reference_tlv import reference_decode


def test_ppse_answer_keeps_both_applications_in_order() -> None:
    data = bytes.fromhex(
        "6F31840E325041592E5359532E4444463031A51FBF0C1C"
        "610C4F07A0000000031010870101"
        "610C4F07A0000000041010870102"
    )
    objects = tlv.decode(data)
    entries = tlv.find_all(objects, "61")
    assert [tlv.primitives(e.children)["4F"].hex().upper() for e in entries] == [
        "A0000000031010",
        "A0000000041010",
    ]
    assert [tlv.primitives(e.children)["87"] for e in entries] == [b"\x01", b"\x02"]


def test_multi_byte_tags_and_two_byte_lengths() -> None:
    value = bytes(200)
    encoded = bytes.fromhex("9F10") + b"\x81\xc8" + value + bytes.fromhex("BF0C03") + b"\x50\x01A"
    objects = tlv.decode(encoded)
    assert objects[0] == Tlv("9F10", value)
    assert objects[1].tag == "BF0C" and objects[1].children == (Tlv("50", b"A"),)


def test_padding_between_objects_is_skipped() -> None:
    assert tlv.decode(b"\x00\x00\x5a\x01\x12\xff\xff\x9f\x36\x02\x00\x01\x00") == [
        Tlv("5A", b"\x12"),
        Tlv("9F36", b"\x00\x01"),
    ]


def test_repeated_tags_are_kept() -> None:
    assert [o.value for o in tlv.decode(b"\x50\x01A\x50\x01B")] == [b"A", b"B"]


@pytest.mark.parametrize(
    ("data", "reason", "offset"),
    [
        (b"\x5a\x05\x01\x02", "cut short", 0),
        (b"\x9f", "tag cut short", 0),
        (b"\x9f\x36", "length missing", 2),
        (b"\x5a\x80\x00\x00", "indefinite", 1),
        (b"\x5a\x85\x00\x00\x00\x00\x01\x00", "not allowed", 1),
        (b"\x5a\x82\x01", "length cut short", 1),
        (b"\x9f\x81\x81\x81\x01\x00", "longer than four", 0),
        (b"\x70\x04\x5a\x05\x01\x02", "cut short", 2),
    ],
)
def test_malformed_input_names_the_problem_and_where(data: bytes, reason: str, offset: int) -> None:
    with pytest.raises(TlvError) as caught:
        tlv.decode(data)
    assert reason in caught.value.reason
    assert caught.value.offset == offset
    assert "tap again" in caught.value.sentence


def test_templates_nested_too_deep_are_refused() -> None:
    data = b"\x01\x00"
    for _ in range(tlv.MAX_DEPTH + 2):
        data = b"\x70" + tlv.encode_length(len(data)) + data
    with pytest.raises(TlvError, match="too deep"):
        tlv.decode(data)


def test_data_object_list_reads_tags_and_lengths() -> None:
    assert tlv.parse_dol(bytes.fromhex("9F66049F02069F3704")) == [
        ("9F66", 4),
        ("9F02", 6),
        ("9F37", 4),
    ]
    with pytest.raises(TlvError):
        tlv.parse_dol(bytes.fromhex("9F6604 9F02".replace(" ", "")))


def _primitive_tags() -> st.SearchStrategy[str]:
    one = st.integers(1, 0x1E).map(lambda n: bytes([0x40 | n]))  # class bits, not constructed
    two = st.integers(0x00, 0x7F).map(lambda n: bytes([0x9F, n]))
    return st.one_of(one, two).map(lambda b: b.hex().upper())


_leaf = st.builds(lambda tag, value: Tlv(tag, value), _primitive_tags(), st.binary(max_size=300))


def _template(children: st.SearchStrategy[list[Tlv]]) -> st.SearchStrategy[Tlv]:
    return st.builds(
        lambda tag, kids: Tlv.build(tag, *kids),
        st.sampled_from(["70", "77", "A5", "BF0C"]),
        children,
    )


_trees = st.recursive(_leaf, lambda kids: _template(st.lists(kids, max_size=4)), max_leaves=12)


@given(st.lists(_trees, max_size=5))
def test_round_trip(objects: list[Tlv]) -> None:
    assert tlv.decode(tlv.encode(objects)) == objects


@given(st.binary(max_size=400))
def test_any_bytes_decode_to_objects_or_a_typed_error(data: bytes) -> None:
    try:
        objects = tlv.decode(data)
    except TlvError as error:
        assert 0 <= error.offset <= len(data)
        return
    assert all(isinstance(o, Tlv) for o in tlv.walk(objects))


def _outermost(objects: tuple[Tlv, ...] | list[Tlv], tag: str) -> list[Tlv]:
    found: list[Tlv] = []
    for obj in objects:
        if obj.tag == tag:
            found.append(obj)
        elif obj.children:
            found.extend(_outermost(obj.children, tag))
    return found


def _same_reading(data: bytes, group: str) -> None:
    """`scan` reads `data` as the plain recursive reader does, errors included, and its flat
    views agree with the tree (`primitives`, `walk`)."""
    try:
        objects = reference_decode(data)
    except TlvError as expected:
        for tree in (False, True):
            with pytest.raises(TlvError) as caught:
                tlv.scan(data, (group,), tree=tree)
            assert (caught.value.reason, caught.value.offset) == (expected.reason, expected.offset)
        return
    assert tlv.decode(data) == objects
    read = tlv.scan(data, (group,))
    assert read.objects == []  # the tree only when asked for
    assert read.first == (objects[0].tag if objects else "")
    assert read.primitives == tlv.primitives(objects)
    assert read.templates == [o.tag for o in tlv.walk(objects) if o.constructed]
    assert read.groups == [tlv.primitives(o.children) for o in _outermost(objects, group)]


@given(st.lists(_trees, max_size=5), st.sampled_from(["70", "77", "A5", "BF0C"]))
def test_scan_reads_well_formed_answers_as_decode_does(objects: list[Tlv], group: str) -> None:
    _same_reading(tlv.encode(objects), group)


@given(st.binary(max_size=400), st.sampled_from(["70", "61"]))
def test_scan_refuses_what_decode_refuses(data: bytes, group: str) -> None:
    _same_reading(data, group)


@given(st.lists(_trees, min_size=1, max_size=4), st.data())
def test_scan_and_decode_agree_on_damaged_answers(objects: list[Tlv], data: st.DataObject) -> None:
    encoded = bytearray(tlv.encode(objects))
    at = data.draw(st.integers(0, len(encoded) - 1))
    encoded[at] = data.draw(st.integers(0, 255))  # one byte changed: tag, length or value
    cut = data.draw(st.integers(0, len(encoded)))  # and maybe cut short
    _same_reading(bytes(encoded[:cut]), data.draw(st.sampled_from(["70", "77", "A5"])))


def test_scan_groups_the_ppse_entries() -> None:
    data = bytes.fromhex(
        "6F31840E325041592E5359532E4444463031A51FBF0C1C"
        "610C4F07A0000000031010870101"
        "610C4F07A0000000041010870102"
    )
    read = tlv.scan(b"\x00" + data + b"\xff", ("61",))
    assert read.first == "6F"
    assert read.templates == ["6F", "A5", "BF0C", "61", "61"]
    assert [g["4F"].hex().upper() for g in read.groups] == ["A0000000031010", "A0000000041010"]
    assert read.primitives["84"] == b"2PAY.SYS.DDF01"


@pytest.mark.parametrize("levels", [tlv.MAX_DEPTH, tlv.MAX_DEPTH + 1])
def test_nesting_limit_is_exact(levels: int) -> None:
    data = b"\x5a\x01\x12"
    for _ in range(levels):
        data = b"\x70" + tlv.encode_length(len(data)) + data
    _same_reading(data, "70")
    if levels > tlv.MAX_DEPTH:
        with pytest.raises(TlvError, match="too deep"):
            tlv.scan(data)
    else:
        assert tlv.scan(data).primitives == {"5A": b"\x12"}
