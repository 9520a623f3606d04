"""Which readers count the cards in the field, and the chip's InListPassiveTarget answer as
input: any bytes give a count of 0-2 or MalformedListAnswer, never another exception."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nfc.clf import acr122, pn531, pn532, pn533, rcs956

from drivers.nfc import NfcReader
from drivers.nfc.collision import MalformedListAnswer, can_count_cards, listed_targets
from tests.conftest import free_port


@pytest.mark.parametrize(
    "chipset, counts",
    [
        (pn531.Chipset, True),
        (pn532.Chipset, True),
        (acr122.Chipset, True),  # a PN532 behind the ACR122U's CCID pseudo-APDUs
        (pn533.Chipset, False),  # nfcpy: one target at most
        (rcs956.Chipset, False),
    ],
)
def test_only_chips_that_list_two_type_a_targets_count(chipset: type, counts: bool) -> None:
    device = SimpleNamespace(chipset=object.__new__(chipset))
    assert can_count_cards(device) is counts


def test_the_udp_simulator_keeps_one_card_at_a_time() -> None:
    reader = NfcReader(f"udp:localhost:{free_port()}")
    try:
        assert reader.counts_cards is False
    finally:
        reader.close()


@pytest.mark.parametrize(
    "answer, count",
    [
        ("00", 0),
        ("01 01 0004 20 04 08a1b2c3", 1),
        ("02 01 0004 20 04 08a1b2c3 02 0044 20 07 04112233445566", 2),
        ("02 01 0044 20 07 04112233445566 02 0004 08 04 01020304", 2),
    ],
)
def test_the_count_is_nbtg(answer: str, count: int) -> None:
    assert listed_targets(bytes.fromhex(answer)) == count


@pytest.mark.parametrize(
    "answer", ["", "03 01 0004 20 04 08a1b2c3", "01 01 0004 20", "01 02 0004 20 00"]
)
def test_answers_that_do_not_parse(answer: str) -> None:
    with pytest.raises(MalformedListAnswer):
        listed_targets(bytes.fromhex(answer))


@given(st.binary(max_size=64))
def test_any_answer_is_a_count_or_a_typed_error(answer: bytes) -> None:
    try:
        assert listed_targets(answer) in (0, 1, 2)
    except MalformedListAnswer:
        pass
