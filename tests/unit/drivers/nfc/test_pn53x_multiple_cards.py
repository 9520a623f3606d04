"""More than one card in the field on a PN532 reader: nfcpy's real PN532 driver and `NfcReader`
against replayed chip frames (tests/unit/drivers/nfc/pn532_chip.py). With `--nfc-device` naming a
PN531/PN532 reader, the last test asks a person to hold two cards on it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from drivers.base import DeviceLost, MultipleCards
from drivers.nfc import NfcReader
from drivers.nfc.reader import MULTIPLE_CARDS
from terminal.money import Amount
from terminal.payment.api import Progress, Result
from terminal.payment.capture import ending
from terminal.settings import Settings
from terminal.wiring.nfc import NfcCardCapture

from .pn532_chip import ACK, CLOSE, ERROR_FRAME, FIELD_OFF, ChipFrames, answer, pn532_frontend

CARD_1 = "01 0004 20 04 08a1b2c3"  # Tg 1, SENS_RES, SEL_RES (ISO-DEP), 4-byte UID
CARD_2 = "02 0044 20 07 04112233445566"  # Tg 2, a 7-byte UID
SENSE = [FIELD_OFF, ("4a 0100", "4b 01" + CARD_1)]  # nfcpy's sense: MaxTg 1, 106 kbps A
COUNT_ONE = [FIELD_OFF, ("4a 0200", "4b 01" + CARD_1), FIELD_OFF]
COUNT_TWO = [FIELD_OFF, ("4a 0200", "4b 02" + CARD_1 + CARD_2), FIELD_OFF]
RESELECT = [FIELD_OFF, ("4a 0100 08a1b2c3", "4b 01" + CARD_1)]  # the same card by its UID


def exchange(data: str, reply: str, timeout_index: str) -> list[tuple[str, str]]:
    """nfcpy's send_cmd_recv_rsp on a PN532: CIU modes for 106 kbps A, the response timeout,
    then InCommunicateThru."""
    return [
        ("06 6302 6303 6305", "07 80 80 03"),  # ReadRegister TxMode, RxMode, TxAuto
        ("08 6302 80 6303 80 6305 43", "09"),  # WriteRegister: 106 kbps Type A, TxAuto
        ("32 02 0a0b" + timeout_index, "33"),  # RFConfiguration: response timeout
        ("42 " + data, "43 00 " + reply),  # InCommunicateThru
    ]


RATS = exchange("e0 80", "05 78 80 70 02", "0a")  # ATS: FSCI 8, FWI 7
SELECT_PPSE = "00a404000e325041592e5359532e444446303100"
FCI = "6f10840e325041592e5359532e4444463031" + "9000"
APDU = exchange("02 " + SELECT_PPSE, "02 " + FCI, "0a")


@pytest.fixture
def chip() -> Iterator[ChipFrames]:
    chip = ChipFrames()
    yield chip
    assert chip.done, f"{len(chip.script)} scripted command(s) never sent"


def reader_on(chip: ChipFrames) -> NfcReader:
    return NfcReader("usb:replayed", technologies=("106A",), frontend=pn532_frontend(chip))


def close(reader: NfcReader, chip: ChipFrames) -> None:
    chip.expect(*CLOSE)
    reader.close()


def test_pn532_readers_count_the_cards() -> None:
    chip = ChipFrames()
    reader = reader_on(chip)
    assert reader.counts_cards
    close(reader, chip)


def test_one_card_in_the_field_is_read(chip: ChipFrames) -> None:
    reader = reader_on(chip)
    chip.expect(*SENSE, *COUNT_ONE, *RESELECT, *RATS, *APDU)
    card = reader.wait_for_card(1)
    assert card.uid == bytes.fromhex("08a1b2c3")
    assert card.transceive(bytes.fromhex(SELECT_PPSE)) == bytes.fromhex(FCI)
    close(reader, chip)


def test_two_cards_in_the_field_are_refused_before_any_apdu(chip: ChipFrames) -> None:
    reader = reader_on(chip)
    chip.expect(*SENSE, *COUNT_TWO)
    with pytest.raises(MultipleCards) as caught:
        reader.wait_for_card(1)
    assert caught.value.sentence == MULTIPLE_CARDS
    assert "present only one card" in caught.value.sentence
    assert not any(
        frame.startswith(bytes.fromhex("0000ff")) and b"\xd4\x42" in frame for frame in chip.written
    ), "no RATS or APDU reached a card"
    close(reader, chip)


def test_the_card_leaving_during_the_count_means_polling_on(chip: ChipFrames) -> None:
    reader = reader_on(chip)
    chip.expect(*SENSE, FIELD_OFF, ("4a 0200", "4b 00"), FIELD_OFF)
    chip.expect(*SENSE, *COUNT_ONE, *RESELECT, *RATS)
    card = reader.wait_for_card(2)
    assert card.uid == bytes.fromhex("08a1b2c3")
    close(reader, chip)


def test_a_chip_refusing_two_targets_falls_back_to_one_card(chip: ChipFrames) -> None:
    reader = reader_on(chip)
    chip.expect(*SENSE, FIELD_OFF, ("4a 0200", ERROR_FRAME), FIELD_OFF, *RESELECT, *RATS)
    reader.wait_for_card(1)
    assert not reader.counts_cards  # not asked again: every tap would pay the refusal
    close(reader, chip)


def test_a_chip_that_stops_answering_is_a_lost_reader(chip: ChipFrames) -> None:
    reader = reader_on(chip)
    chip.expect(*SENSE, FIELD_OFF, ("4a 0200", None))
    chip.expect(FIELD_OFF)  # the field goes off after the failure
    with pytest.raises(DeviceLost) as caught:
        reader.wait_for_card(1)
    assert "stopped answering" in caught.value.sentence
    assert ACK in chip.written  # nfcpy cancelled the command on the chip
    close(reader, chip)


@pytest.mark.parametrize(
    "reply",
    [
        answer("4b 03" + CARD_1 + CARD_2 + CARD_1),  # three targets for MaxTg 2
        answer("4b 01 01 0004"),  # target data cut short
        answer("4b"),  # no NbTg at all
        answer("4b 01" + CARD_1)[:-2] + b"\x00\x00",  # data checksum broken
        answer("4d 01" + CARD_1),  # the answer to another command
    ],
    ids=["three-targets", "short-target", "no-count", "checksum", "wrong-command"],
)
def test_a_garbled_answer_is_a_lost_reader(chip: ChipFrames, reply: bytes) -> None:
    reader = reader_on(chip)
    chip.expect(*SENSE, FIELD_OFF, ("4a 0200", reply), FIELD_OFF)
    with pytest.raises(DeviceLost) as caught:
        reader.wait_for_card(1)
    assert "NFC reader" in caught.value.sentence
    close(reader, chip)


def test_the_sale_shows_the_operator_sentence_for_two_cards(chip: ChipFrames) -> None:
    reader = reader_on(chip)
    chip.expect(*SENSE, *COUNT_TWO)
    capture = NfcCardCapture(Settings(), reader)
    progress: list[Progress] = []

    async def sale() -> None:
        await capture.read_card(Amount.of(1234, "EUR"), asyncio.Event(), progress.append)

    with pytest.raises(MultipleCards) as caught:
        asyncio.run(sale())
    stop = ending(caught.value)  # what the engine reports: tap again, nothing charged
    assert stop is not None and stop.result is Result.CANCELLED
    assert stop.sentence == MULTIPLE_CARDS
    close(reader, chip)


@pytest.mark.hardware
def test_real_pn53x_reader_refuses_two_cards(hardware: str | None) -> None:
    if not hardware:
        pytest.skip("give --nfc-device usb (a PN531/PN532 reader) to run on a real reader")
    reader = NfcReader(hardware)
    try:
        if not reader.counts_cards:
            pytest.skip(f"{hardware} cannot list two Type A cards (see README 'Contactless')")
        print("\nhold TWO contactless Type A cards on the reader together within 30 s")
        with pytest.raises(MultipleCards) as caught:
            reader.wait_for_card(30)
    finally:
        reader.close()
    assert caught.value.sentence == MULTIPLE_CARDS
