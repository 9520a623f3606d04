"""Whatever a card answers, the kernel ends in card data or a typed error: never a crash or
a hang. Each property replaces one answer of a real (simulated) card with arbitrary bytes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal.emv import tlv
from terminal.emv.card_data import CardData
from terminal.emv.errors import EmvError
from terminal.emv.kernel import read_card
from terminal.emv.tlv import Tlv

from .conftest import card, config, sale

PROFILES = st.sampled_from(["visa-credit", "mastercard-debit", "wallet-token", "two-apps"])
STATUS = st.sampled_from([b"\x90\x00", b"\x61\x10", b"\x6c\x05", b"\x6a\x82", b"\x62\x83"])


def _run(profile: str, nth: int, answer: bytes) -> None:
    seen = [0]

    def replace(command: bytes, _: bytes) -> bytes | None:
        seen[0] += 1
        return answer if seen[0] == nth else None

    reader = card(profile, replace)
    try:
        result = read_card(reader, sale(1234), config())
    except EmvError as error:
        assert error.sentence
    else:
        assert isinstance(result, CardData)
    assert len(reader.commands) < 200  # bounded: no endless GET RESPONSE or record loops


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(PROFILES, st.integers(1, 8), st.binary(max_size=300))
def test_any_bytes_as_any_answer(profile: str, nth: int, answer: bytes) -> None:
    _run(profile, nth, answer)


@settings(max_examples=200)
@given(PROFILES, st.integers(1, 8), st.binary(max_size=200), STATUS)
def test_any_data_with_a_plausible_status_word(
    profile: str, nth: int, data: bytes, status: bytes
) -> None:
    _run(profile, nth, data + status)


_objects = st.lists(
    st.builds(
        lambda tag, value: Tlv(tag, value),
        st.sampled_from(["5A", "57", "5F24", "5F25", "5F34", "82", "94", "9F26", "9F27", "9F36"]),
        st.binary(max_size=24),
    ),
    max_size=10,
)


@settings(max_examples=200)
@given(_objects, st.sampled_from(["77", "70", "80"]))
def test_well_formed_tlv_with_any_values_in_gpo_and_records(
    objects: list[Tlv], template: str
) -> None:
    answer = tlv.encode_one(Tlv.build(template, *objects)) if template != "80" else b""
    if template == "80":
        answer = tlv.encode_one(Tlv("80", b"".join(o.value for o in objects)))
    for nth in (3, 4, 5):
        _run("mastercard-debit", nth, answer + b"\x90\x00")
        _run("visa-credit", nth, answer + b"\x90\x00")


@settings(max_examples=150)
@given(st.binary(max_size=64), st.sampled_from(["A0000000031010", "A0000000041010"]))
def test_any_pdol_the_card_asks_for(pdol: bytes, aid: str) -> None:
    fci = Tlv.build(
        "6F", Tlv.build("84", bytes.fromhex(aid)), Tlv.build("A5", Tlv.build("9F38", pdol))
    )
    profile = "visa-credit" if aid.endswith("31010") else "mastercard-debit"
    _run(profile, 2, tlv.encode_one(fci) + b"\x90\x00")
