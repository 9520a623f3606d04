"""The engine's CardCapture over a UDP reader, with `posterm sim card` as a separate process
tapping on the other side."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.base import Cancelled, DeviceLost, DeviceNotFound, DriverError, Timeout
from drivers.nfc import NfcReader
from simulators.card.applet import SimulatedCard
from simulators.card.cryptogram import verify_arqc
from simulators.card.testcards import load_test_cards
from terminal.emv.card_data import CardData
from terminal.emv.errors import ContactlessLimitExceeded
from terminal.errors import PostermError
from terminal.logs import configure_logging
from terminal.money import Amount
from terminal.payment.api import Progress, Result, Stage
from terminal.payment.capture import Stopped, ending
from terminal.settings import Settings, load_settings
from terminal.wiring.nfc import NfcCardCapture, card_capture
from tests.conftest import free_port
from tests.unit.drivers.nfc.udp_field import wait_listening

CARDS = load_test_cards()
POSTERM = [sys.executable, "-m", "terminal"]


def settings_for(path: str, write_config: Callable[[str], Path], timeout: float = 10) -> Settings:
    config = write_config(f'[devices]\nnfc = "{path}"\n[nfc]\ntap_timeout_s = {timeout}\n')
    return load_settings(config, environ={})


@pytest.fixture
def sim_card() -> Iterator[Callable[..., str]]:
    """sim_card(profile, taps) -> the reader path a `posterm sim card` process taps on."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(profile: str, taps: int = 1, path: str = "") -> str:
        path = path or f"udp:localhost:{free_port()}"
        command = [*POSTERM, "sim", "card", "--profile", profile, "--reader", path]
        command += ["--taps", str(taps), "--timeout", "30"]
        processes.append(subprocess.Popen(command, stderr=subprocess.DEVNULL))
        wait_listening(path)
        return path

    yield start
    for process in processes:
        process.kill()
        process.wait()


def capture(settings: Settings, minor: int, cancel_after: float | None = None) -> CardData:
    seen: list[Progress] = []

    async def run() -> CardData:
        cancel = asyncio.Event()
        if cancel_after is not None:
            asyncio.get_running_loop().call_later(cancel_after, cancel.set)
        capture = NfcCardCapture(settings)
        try:
            return await capture.read_card(Amount.of(minor, "EUR"), cancel, seen.append)
        finally:
            capture.close()

    result = asyncio.run(run())
    assert [p.stage for p in seen] == [Stage.READING_CARD, Stage.CARD_READ]
    return result


def test_phone_wallet_tapped_from_another_process(
    sim_card: Callable[..., str], write_config: Callable[[str], Path]
) -> None:
    settings = settings_for(sim_card("wallet-token"), write_config)
    data = capture(settings, 7500)  # above the CVM limit: the phone verified its owner
    assert data.wallet and data.cdcvm and data.masked_pan == "489537******0015"
    assert verify_arqc(CARDS["wallet-token"].issuer, data.pan, data.psn, data.emv)


def sale_end(error: BaseException) -> Stopped:
    """How the engine ends the sale for what the capture raised."""
    stop = ending(error)
    assert stop is not None, f"{error!r} is not a capture's ending"
    return stop


@pytest.mark.parametrize(
    ("profile", "minor", "error", "result", "code", "words"),
    [
        ("expired", 1234, "CardExpired", Result.DECLINED, "54", "expired"),
        ("visa-credit", 7500, "CvmRequired", Result.DECLINED, "65", "phone wallet"),
        ("pulled-away", 1234, "CardRemoved", Result.CANCELLED, "", "tap again"),
        ("not-emv", 1234, "NotAPaymentCard", Result.DECLINED, "", "not a payment card"),
    ],
)
def test_each_problem_card_gives_its_sentence(
    sim_card: Callable[..., str],
    write_config: Callable[[str], Path],
    profile: str,
    minor: int,
    error: str,
    result: Result,
    code: str,
    words: str,
) -> None:
    settings = settings_for(sim_card(profile), write_config)
    with pytest.raises((PostermError, DriverError)) as caught:
        asyncio.run(
            NfcCardCapture(settings).read_card(Amount.of(minor, "EUR"), asyncio.Event(), print)
        )
    assert type(caught.value).__name__ == error
    stop = sale_end(caught.value)
    assert (stop.result, stop.code) == (result, code)
    assert words in stop.sentence


def test_over_the_contactless_limit_is_refused_without_a_reader(
    write_config: Callable[[str], Path],
) -> None:
    settings = settings_for("none", write_config)
    with pytest.raises(ContactlessLimitExceeded) as caught:
        asyncio.run(
            NfcCardCapture(settings).read_card(Amount.of(60000, "EUR"), asyncio.Event(), print)
        )
    assert "amount too high for contactless — use another method" in caught.value.sentence


def test_no_reader_configured(write_config: Callable[[str], Path]) -> None:
    settings = settings_for("none", write_config)
    with pytest.raises(DeviceNotFound) as caught:
        asyncio.run(
            NfcCardCapture(settings).read_card(Amount.of(100, "EUR"), asyncio.Event(), print)
        )
    stop = sale_end(caught.value)
    assert stop.result is Result.ERROR and "devices.nfc" in stop.sentence


def test_operator_cancels_while_waiting(write_config: Callable[[str], Path]) -> None:
    settings = settings_for(f"udp:localhost:{free_port()}", write_config, timeout=30)
    started = time.monotonic()
    with pytest.raises(Cancelled) as caught:
        capture(settings, 100, cancel_after=0.2)
    stop = sale_end(caught.value)  # what the engine reports
    assert stop.result is Result.CANCELLED and "cancelled" in stop.sentence
    assert time.monotonic() - started < 5


def test_nobody_taps(write_config: Callable[[str], Path]) -> None:
    settings = settings_for(f"udp:localhost:{free_port()}", write_config, timeout=0.5)
    with pytest.raises(Timeout) as caught:
        asyncio.run(
            NfcCardCapture(settings).read_card(Amount.of(100, "EUR"), asyncio.Event(), print)
        )
    stop = sale_end(caught.value)  # what the engine reports
    assert stop.result is Result.CANCELLED and "within 0.5 seconds" in stop.sentence


def test_sim_card_names_unknown_profiles() -> None:
    done = subprocess.run(
        [*POSTERM, "sim", "card", "--profile", "nope", "--reader", "udp:localhost:40001"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "No card profile 'nope'" in done.stderr and "visa-credit" in done.stderr


def test_card_capture_factory_opens_the_configured_reader(
    write_config: Callable[[str], Path],
) -> None:
    assert card_capture(settings_for("none", write_config)) is None
    with pytest.raises(DeviceNotFound) as caught:
        card_capture(settings_for("usb:ffff:fffe", write_config))
    assert "No NFC reader found" in caught.value.sentence
    capture = card_capture(settings_for(f"udp:localhost:{free_port()}", write_config))
    assert isinstance(capture, NfcCardCapture)
    capture.close()


def test_sim_card_lists_the_shipped_profiles() -> None:
    done = subprocess.run(
        [*POSTERM, "sim", "card", "--list"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    names = [line.split(":")[0] for line in done.stdout.splitlines()]
    assert names == list(CARDS)
    assert "4761739001010010" not in done.stdout  # PANs only masked


def test_reader_lost_during_a_sale_is_reopened_for_the_next(
    sim_card: Callable[..., str], write_config: Callable[[str], Path]
) -> None:
    path = f"udp:localhost:{free_port()}"
    settings = settings_for(path, write_config, timeout=10)
    first = NfcReader(path)
    capture = NfcCardCapture(settings, first)

    async def lost_then_paid() -> CardData:
        cancel = asyncio.Event()
        # nfcpy's front end goes away under the waiting reader, as when its USB cable is pulled
        asyncio.get_running_loop().call_later(0.2, first._clf.close)
        with pytest.raises(DeviceLost) as caught:
            await capture.read_card(Amount.of(100, "EUR"), cancel, print)
        stop = sale_end(caught.value)
        assert stop.result is Result.ERROR and "stopped answering" in stop.sentence
        sim_card("visa-credit", path=path)
        return await capture.read_card(Amount.of(100, "EUR"), cancel, print)

    data = asyncio.run(lost_then_paid())
    capture.close()
    assert data.pan == CARDS["visa-credit"].pan


def test_a_tap_logged_at_debug_shows_no_card_data(
    sim_card: Callable[..., str],
    write_config: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A technician's DEBUG log follows every frame of the tap, without PAN or track 2."""
    root, nfc_log = logging.getLogger(), logging.getLogger("nfc")
    levels = (root.level, nfc_log.level)
    handler = configure_logging("DEBUG", "stderr")
    try:
        settings = settings_for(sim_card("visa-credit"), write_config)
        data = capture(settings, 1234)
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        nfc_log.setLevel(levels[1])
    text = capsys.readouterr().err
    assert data.pan == CARDS["visa-credit"].pan
    assert "nfc.clf: >>> 0200…" in text  # the frames are there, cut short
    assert CARDS["visa-credit"].pan not in text and CARDS["visa-credit"].pan[6:] not in text


class SlowToLeaveCard:
    """The simulated applet behind `transceive`; `release` blocks until the test lets it go."""

    def __init__(self, applet: SimulatedCard, leave: threading.Event) -> None:
        self.applet = applet
        self.leave = leave
        self.released = threading.Event()

    def transceive(self, apdu: bytes) -> bytes:
        answer = self.applet.handle(apdu)
        assert answer is not None
        return answer

    def release(self) -> None:
        self.leave.wait(10)
        self.released.set()


class OneCardReader:
    def __init__(self, card: SlowToLeaveCard) -> None:
        self.card = card
        self.waits = 0

    def wait_for_card(self, timeout: float) -> SlowToLeaveCard:
        self.waits += 1
        return self.card

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_the_sale_gets_the_card_data_before_the_card_is_released(
    write_config: Callable[[str], Path],
) -> None:
    """DESELECT and field-off are card I/O the sale need not wait for; the next tap does."""
    leave = threading.Event()
    card = SlowToLeaveCard(SimulatedCard(CARDS["visa-credit"], CARDS), leave)
    reader = OneCardReader(card)
    settings = load_settings(write_config("[nfc]\ntap_timeout_s = 5\n"), environ={})
    seen: list[Progress] = []

    async def run() -> tuple[CardData, bool, bool]:
        capture = NfcCardCapture(settings, reader)
        data = await capture.read_card(Amount.of(1234, "EUR"), asyncio.Event(), seen.append)
        released_at_hand_over = card.released.is_set()
        second = asyncio.ensure_future(
            capture.read_card(Amount.of(99, "EUR"), asyncio.Event(), seen.append)
        )
        await asyncio.sleep(0.2)
        waited = reader.waits == 1  # the second tap waits for the first card to leave
        leave.set()
        await second
        return data, released_at_hand_over, waited

    data, released_at_hand_over, waited = asyncio.run(run())
    assert data.pan == CARDS["visa-credit"].pan
    assert not released_at_hand_over
    assert waited and reader.waits == 2
    assert [p.stage for p in seen[:2]] == [Stage.READING_CARD, Stage.CARD_READ]


class ForgetfulReader:
    """Like the nfcpy reader: a wait clears any earlier cancel when it begins."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self.began = threading.Event()

    def wait_for_card(self, timeout: float) -> SlowToLeaveCard:
        time.sleep(0.2)  # a busy machine: the thread starts waiting after the cancel came
        self._cancel.clear()
        self.began.set()
        if self._cancel.wait(timeout):
            raise Cancelled("The wait for a card was cancelled.")
        raise Timeout("No card or phone was presented.")

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        pass


def test_a_cancel_that_lands_before_the_wait_begins_still_ends_it(
    write_config: Callable[[str], Path],
) -> None:
    reader = ForgetfulReader()
    settings = load_settings(write_config("[nfc]\ntap_timeout_s = 20\n"), environ={})

    async def run() -> float:
        capture = NfcCardCapture(settings, reader)
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, cancel.set)
        started = time.monotonic()
        with pytest.raises(Cancelled):
            await capture.read_card(Amount.of(1234, "EUR"), cancel, lambda _: None)
        return time.monotonic() - started

    assert asyncio.run(run()) < 10  # not the 20 s tap timeout
    assert reader.began.is_set()
