"""The nfcpy reader driver against simulated cards over nfcpy's UDP front end (the other side
runs the ISO-DEP card emulation in a thread). With `--nfc-device usb` the tests that need no
particular profile run against a real reader and a card a person taps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from drivers.base import (
    Cancelled,
    CardRemoved,
    DeviceLost,
    DeviceNotFound,
    NotAPaymentCard,
    Timeout,
)
from drivers.nfc import NfcReader
from simulators.card.cryptogram import verify_arqc
from simulators.card.isodep import IsoDepParameters
from terminal.emv.card_data import CardData
from terminal.emv.kernel import KernelConfig, read_card
from terminal.emv.terminal_data import Transaction
from terminal.money import Amount
from terminal.settings import Settings
from tests.conftest import free_port

from .conftest import CARDS, PresentedCard

CONFIG = KernelConfig.from_settings(Settings())
Present = Callable[..., PresentedCard]
Opener = Callable[[str], NfcReader]


def tap(reader: NfcReader, minor: int = 1234, timeout: float = 5.0) -> CardData:
    card = reader.wait_for_card(timeout)
    try:
        return read_card(card, Transaction(Amount.of(minor, "EUR"), "276"), CONFIG)
    finally:
        card.release()


def test_reads_a_simulated_card_and_deselects_it(present: Present, open_reader: Opener) -> None:
    card = present("visa-credit")
    data = tap(open_reader(card.path))
    assert data.pan == CARDS["visa-credit"].pan
    assert verify_arqc(CARDS["visa-credit"].issuer, data.pan, data.psn, data.emv)
    deadline = time.monotonic() + 2
    while card.emulator.last_reason != "deselected" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert card.emulator.last_reason == "deselected"


def test_every_tap_is_a_new_transaction(present: Present, open_reader: Opener) -> None:
    card = present("mastercard-debit")
    reader = open_reader(card.path)
    counters = [tap(reader, 100 + i).emv["9F36"] for i in range(3)]
    assert len(set(counters)) == 3 and card.applet.taps == 3


def test_slow_card_gets_waiting_time_extensions(present: Present, open_reader: Opener) -> None:
    card = present("slow", slow_s=0.4)  # five times the 77 ms frame waiting time
    started = time.monotonic()
    data = tap(open_reader(card.path))
    assert time.monotonic() - started >= 0.4
    assert verify_arqc(CARDS["slow"].issuer, data.pan, data.psn, data.emv)


def test_long_commands_and_answers_are_chained(present: Present, open_reader: Opener) -> None:
    # 32-byte frames towards the card (the GPO command is chained), 16-byte answers back.
    card = present("visa-credit", params=IsoDepParameters(fsci=2, max_inf=16))
    data = tap(open_reader(card.path))
    assert verify_arqc(CARDS["visa-credit"].issuer, data.pan, data.psn, data.emv)


def test_card_pulled_away_after_select(present: Present, open_reader: Opener) -> None:
    card = present("pulled-away")
    with pytest.raises(CardRemoved) as caught:
        tap(open_reader(card.path))
    assert "tap again" in caught.value.sentence


def test_a_tag_that_is_no_payment_card(present: Present, open_reader: Opener) -> None:
    card = present("not-emv")
    with pytest.raises(NotAPaymentCard) as caught:
        open_reader(card.path).wait_for_card(5)
    assert "not a payment card" in caught.value.sentence


def test_waiting_ends_after_the_timeout(hardware: str | None, open_reader: Opener) -> None:
    reader = open_reader(hardware or f"udp:localhost:{free_port()}")
    started = time.monotonic()
    with pytest.raises(Timeout) as caught:
        reader.wait_for_card(0.3)
    assert 0.3 <= time.monotonic() - started < 3
    assert "within 0.3 seconds" in caught.value.sentence


def test_cancel_ends_the_wait_from_another_thread(
    hardware: str | None, open_reader: Opener
) -> None:
    reader = open_reader(hardware or f"udp:localhost:{free_port()}")
    threading.Timer(0.2, reader.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        reader.wait_for_card(30)
    assert time.monotonic() - started < 3


def test_no_reader_at_the_configured_path() -> None:
    with pytest.raises(DeviceNotFound) as caught:
        NfcReader("usb:ffff:fffe")
    assert "No NFC reader found at 'usb:ffff:fffe'" in caught.value.sentence


def test_a_port_named_in_etc_services_is_refused_with_the_reason() -> None:
    with pytest.raises(DeviceNotFound) as caught:
        NfcReader("udp:localhost:6000")
    assert "reserved" in caught.value.sentence


def test_reader_closed_during_the_read_is_a_lost_device(
    present: Present, open_reader: Opener
) -> None:
    card = present("slow", slow_s=1.0)
    reader = open_reader(card.path)
    found = reader.wait_for_card(5)
    threading.Timer(0.3, reader.close).start()
    with pytest.raises(DeviceLost) as caught:
        read_card(found, Transaction(Amount.of(100, "EUR"), "276"), CONFIG)
    assert "stopped answering" in caught.value.sentence


@pytest.mark.hardware
def test_real_reader_reads_a_presented_payment_card(hardware: str | None) -> None:
    if not hardware:
        pytest.skip("give --nfc-device usb (or another nfcpy path) to run on a real reader")
    reader = NfcReader(hardware)
    try:
        print("\ntap a contactless payment card on the reader within 30 s")
        card = reader.wait_for_card(30)
        data = read_card(card, Transaction(Amount.of(1, "EUR"), "276"), CONFIG)
        card.release()
    finally:
        reader.close()
    assert data.scheme != "unknown" and data.emv["9F26"]


def test_presence_check_sees_the_card_until_it_leaves(
    present: Present, open_reader: Opener
) -> None:
    card = present("visa-credit")
    found = open_reader(card.path).wait_for_card(5)
    assert found.is_present() and found.is_present()
    found.transceive(bytes.fromhex("00A404000E325041592E5359532E444446303100"))
    card.stop.set()
    card.emulator.close()  # the card is gone: no more answers
    assert not found.is_present()
