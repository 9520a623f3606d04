"""The simulated card application answers like a card: status words for what it refuses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.card.applet import SimulatedCard
from simulators.card.tap import CARDS
from terminal.emv import tlv

PPSE = bytes.fromhex("00A404000E325041592E5359532E444446303100")


def applet(name: str = "visa-credit") -> SimulatedCard:
    return SimulatedCard(CARDS[name], CARDS, atc=1, slow_s=0.0)


def test_ppse_lists_every_application_with_its_priority() -> None:
    answer = applet("two-apps").handle(PPSE)
    assert answer is not None and answer[-2:] == b"\x90\x00"
    entries = tlv.find_all(tlv.decode(answer[:-2]), "61")
    listed = [
        (tlv.primitives(e.children)["4F"].hex().upper(), tlv.primitives(e.children)["87"])
        for e in entries
    ]
    assert listed == [("A0000000032010", b"\x01"), ("A0000000041010", b"\x02")]


def test_refusals_use_iso_status_words() -> None:
    card = applet()
    assert card.handle(bytes.fromhex("00A4040007A000000004101000")) == b"\x6a\x82"
    assert card.handle(bytes.fromhex("00B2010C00")) == b"\x69\x85"  # no GPO yet
    assert card.handle(bytes.fromhex("80A8000002830000")) == b"\x69\x85"  # nothing selected
    assert card.handle(bytes.fromhex("00CA9F3600")) == b"\x6d\x00"
    assert card.handle(bytes.fromhex("B0A4040000")) == b"\x6e\x00"
    card.handle(bytes.fromhex("00A4040007A000000003101000"))
    assert card.handle(bytes.fromhex("80A8000002830000")) == b"\x67\x00"  # PDOL not filled


def test_pulled_away_card_stops_answering_after_select() -> None:
    card = applet("pulled-away")
    assert card.handle(PPSE) is not None
    assert card.handle(bytes.fromhex("00A4040007A000000003101000")) is not None
    assert card.handle(bytes.fromhex("80A8000002830000")) is None


def test_not_emv_profile_is_a_type2_tag() -> None:
    assert applet("not-emv").technology == "type2"
    assert applet().technology == "iso-dep"


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_any_command_gets_a_status_word(command: bytes) -> None:
    card = applet("mastercard-debit")
    card.handle(bytes.fromhex("00A4040007A000000004101000"))
    answer = card.handle(command)
    assert answer is not None and len(answer) >= 2
