"""The contactless kernel against the simulated card applet, in-process."""

from __future__ import annotations

import pytest

from simulators.card.cryptogram import verify_arqc
from terminal.emv import tlv
from terminal.emv.errors import (
    AnotherInterface,
    ApplicationBlocked,
    ApplicationMismatch,
    CardDataError,
    CardDeclinedOffline,
    CardExpired,
    CardNotYetValid,
    ContactlessLimitExceeded,
    CvmRequired,
    MissingRecord,
    NotEmvCard,
    UnsupportedApplication,
)
from terminal.emv.kernel import read_card
from terminal.emv.tlv import Tlv
from terminal.money import Amount

from .conftest import CARDS, card, config, sale

ISSUER_TAGS = {"9F26", "9F27", "9F36", "9F10", "9F37", "9F02", "9F03", "5F2A", "9A", "9C", "95"}
ISSUER_TAGS |= {"82", "9F1A", "9F66"}


@pytest.mark.parametrize(
    ("profile", "scheme", "aid"),
    [
        ("visa-credit", "visa", "A0000000031010"),
        ("mastercard-debit", "mastercard", "A0000000041010"),
        ("wallet-token", "visa", "A0000000031010"),
        ("blocked", "visa", "A0000000031010"),
        ("slow", "visa", "A0000000031010"),
    ],
)
def test_card_data_carries_a_cryptogram_the_issuer_verifies(
    profile: str, scheme: str, aid: str
) -> None:
    data = read_card(card(profile), sale(1234), config())
    test_card = CARDS[profile]
    assert (data.scheme, data.aid, data.pan) == (scheme, aid, test_card.pan)
    assert data.expiry == test_card.expiry and data.psn == test_card.psn
    assert ISSUER_TAGS <= set(data.emv)
    assert data.emv["9F02"] == "000000001234" and data.emv["5F2A"] == "0978"
    assert data.emv["9F37"] == "11223344" and data.emv["9A"] == "261122"
    assert data.track2.startswith(test_card.pan + "D" + test_card.expiry[:4])
    assert verify_arqc(test_card.issuer, data.pan, data.psn, data.emv)


def test_a_changed_amount_fails_the_issuers_check() -> None:
    data = read_card(card("visa-credit"), sale(1234), config())
    forged = {**data.emv, "9F02": "000000000100"}
    assert not verify_arqc(CARDS["visa-credit"].issuer, data.pan, data.psn, forged)


def test_mastercard_reads_records_then_asks_for_the_cryptogram() -> None:
    reader = card("mastercard-debit")
    read_card(reader, sale(500), config())
    instructions = [c[1] for c in reader.commands]
    assert instructions == [0xA4, 0xA4, 0xA8, 0xB2, 0xB2, 0xB2, 0xAE]


def test_two_applications_priority_decides() -> None:
    data = read_card(card("two-apps"), sale(1000), config())
    assert data.aid == "A0000000032010" and data.label == "VISA DEBIT"


def test_two_applications_falls_back_to_the_one_the_terminal_accepts() -> None:
    data = read_card(card("two-apps"), sale(1000), config(aids=("A0000000041010",)))
    assert data.scheme == "mastercard" and data.pan == CARDS["mastercard-debit"].pan


def test_phone_wallet_presents_a_token_with_cdcvm_above_the_cvm_limit() -> None:
    data = read_card(card("wallet-token"), sale(12000), config())
    assert data.wallet and data.cdcvm
    assert data.emv["9F66"][2:4] == "C0"  # TTQ: online cryptogram and CVM required
    assert bytes.fromhex(data.emv["9F6C"])[1] & 0x80


def test_plain_card_above_the_cvm_limit_is_asked_for_another_method() -> None:
    with pytest.raises(CvmRequired) as caught:
        read_card(card("visa-credit"), sale(5001), config())
    assert "EUR 50.00" in caught.value.sentence and "phone wallet" in caught.value.sentence


def test_amount_above_the_contactless_limit_is_refused_before_any_apdu() -> None:
    reader = card("wallet-token")
    with pytest.raises(ContactlessLimitExceeded) as caught:
        read_card(reader, sale(50001), config())
    assert "amount too high for contactless — use another method" in caught.value.sentence
    assert reader.commands == []
    assert caught.value.exit_code == 1


def test_expired_card_is_refused() -> None:
    with pytest.raises(CardExpired) as caught:
        read_card(card("expired"), sale(1234), config())
    assert caught.value.sentence == "This card has expired — ask for another card or method."


def test_card_with_no_accepted_scheme() -> None:
    with pytest.raises(UnsupportedApplication):
        read_card(card("visa-credit"), sale(100), config(aids=("A00000002501",)))


def _answer(instruction: int, answer: bytes, *, p1: int | None = None):  # type: ignore[no-untyped-def]
    def override(command: bytes, _: bytes) -> bytes | None:
        if command[1] == instruction and (p1 is None or command[2] == p1):
            return answer
        return None

    return override


def _select_aid(answer: bytes):  # type: ignore[no-untyped-def]
    def override(command: bytes, _: bytes) -> bytes | None:
        if command[1] == 0xA4 and b"2PAY" not in command:
            return answer
        return None

    return override


def test_no_ppse_is_not_an_emv_card() -> None:
    with pytest.raises(NotEmvCard):
        read_card(card("visa-credit", _answer(0xA4, b"\x6a\x82")), sale(100), config())


def test_blocked_application() -> None:
    with pytest.raises(ApplicationBlocked):
        read_card(card("visa-credit", _select_aid(b"\x62\x83")), sale(100), config())


def test_card_that_refuses_contactless_asks_for_another_interface() -> None:
    with pytest.raises(AnotherInterface):
        read_card(card("visa-credit", _answer(0xA8, b"\x69\x85")), sale(100), config())


def test_card_answering_another_application_than_selected() -> None:
    fci = Tlv.build("6F", Tlv.build("84", bytes.fromhex("A0000000041010")), Tlv.build("A5"))
    with pytest.raises(ApplicationMismatch):
        read_card(
            card("visa-credit", _select_aid(tlv.encode_one(fci) + b"\x90\x00")), sale(1), config()
        )


def test_afl_pointing_at_missing_records() -> None:
    gpo = tlv.encode_one(Tlv.build("80", bytes.fromhex("1980") + bytes.fromhex("08010300")))
    with pytest.raises(MissingRecord):
        read_card(card("mastercard-debit", _answer(0xA8, gpo + b"\x90\x00")), sale(1), config())


def test_a_malformed_record_is_named_once_every_record_is_read() -> None:
    # Records are parsed after the last READ RECORD (time in the field), still typed errors.
    reader = card("mastercard-debit", _answer(0xB2, b"\x80\x01\x00\x90\x00", p1=1))
    with pytest.raises(CardDataError) as caught:
        read_card(reader, sale(1), config())
    assert "record 1 of SFI 1" in caught.value.detail
    reads = [c for c in reader.commands if c[1] == 0xB2]
    assert len(reads) == 3 and not any(c[1] == 0xAE for c in reader.commands)


@pytest.mark.parametrize("afl", ["080101", "00010100", "08000100", "08030100", "F8010100"])
def test_malformed_afl_is_a_card_data_error(afl: str) -> None:
    gpo = tlv.encode_one(Tlv.build("80", bytes.fromhex("1980" + afl)))
    with pytest.raises(CardDataError):
        read_card(card("mastercard-debit", _answer(0xA8, gpo + b"\x90\x00")), sale(1), config())


def test_card_that_declines_offline() -> None:
    def aac(command: bytes, answer: bytes) -> bytes | None:
        if command[1] != 0xA8:
            return None
        return answer.replace(bytes.fromhex("9F270180"), bytes.fromhex("9F270100"))

    with pytest.raises(CardDeclinedOffline):
        read_card(card("visa-credit", aac), sale(100), config())


class ChunkingCard:
    """A card that announces its data with 61XX and hands it out through GET RESPONSE."""

    def __init__(self, profile: str) -> None:
        self.inner = card(profile)
        self.held = b""

    def transceive(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\x00\xc0":
            part, self.held = self.held[: apdu[4]], self.held[apdu[4] :]
            sw = b"\x61" + bytes([min(len(self.held), 0x20)]) if self.held else b"\x90\x00"
            return part + sw
        answer = self.inner.transceive(apdu)
        if answer[-2:] != b"\x90\x00":
            return answer
        self.held = answer[:-2]
        return b"\x61" + bytes([min(len(self.held), 0x20)])


def test_more_data_status_words_are_followed() -> None:
    data = read_card(ChunkingCard("mastercard-debit"), sale(700), config())
    assert data.pan == CARDS["mastercard-debit"].pan


class WrongLengthCard:
    """A card that wants the exact Le: 6CXX first, the data when asked again."""

    def __init__(self, profile: str) -> None:
        self.inner = card(profile)

    def transceive(self, apdu: bytes) -> bytes:
        answer = self.inner.transceive(apdu)
        if apdu[-1] == 0 and len(answer) > 2:
            return b"\x6c" + bytes([len(answer) - 2])
        return answer


def test_wrong_length_status_word_repeats_with_the_right_le() -> None:
    data = read_card(WrongLengthCard("visa-credit"), sale(700), config())
    assert verify_arqc(CARDS["visa-credit"].issuer, data.pan, data.psn, data.emv)


def test_amounts_are_sent_in_the_currency_minor_units() -> None:
    data = read_card(card("visa-credit"), sale(1), config(cvm_limit=Amount.of(1, "EUR")))
    assert data.emv["9F02"] == "000000000001"


def test_card_not_valid_yet() -> None:
    def future_start(command: bytes, answer: bytes) -> bytes | None:
        if command[1] != 0xB2:
            return None
        return answer.replace(bytes.fromhex("5F2503200101"), bytes.fromhex("5F2503271231"))

    with pytest.raises(CardNotYetValid):
        read_card(card("visa-credit", future_start), sale(100), config())


def test_card_asking_for_more_terminal_data_than_fits_a_command() -> None:
    pdol = bytes.fromhex("9F02FF") * 2
    fci = Tlv.build(
        "6F",
        Tlv.build("84", bytes.fromhex("A0000000031010")),
        Tlv.build("A5", Tlv.build("9F38", pdol)),
    )
    with pytest.raises(CardDataError, match="asks for"):
        read_card(
            card("visa-credit", _select_aid(tlv.encode_one(fci) + b"\x90\x00")), sale(1), config()
        )


def test_mastercard_phone_signals_cdcvm_in_its_generate_ac_answer() -> None:
    from dataclasses import replace

    from .conftest import AppletCard

    phone = replace(CARDS["mastercard-debit"], wallet=True, cdcvm=True, name="mc-phone")
    data = read_card(AppletCard(phone), sale(7500), config())
    assert data.cdcvm and data.emv["DF4B"] == "010100"
    assert bytes.fromhex(data.emv["82"])[0] & 0x02  # AIP: on-device cardholder verification
    assert verify_arqc(phone.issuer, data.pan, data.psn, data.emv)
