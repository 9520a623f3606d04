"""NFC wiring: the reader named by `devices.nfc` and the engine's `CardCapture` over it.

Nothing here loads a simulator: the simulated card that `posterm sim card` presents lives in
`simulators.card.present`, so a sale on a real reader never imports test cards or pyemv.

The wait for a tap and the kernel run in a worker thread (`asyncio.to_thread`): the event loop
never blocks. Cancelling the sale (the `cancel` event, or cancelling the awaiting task) makes
the reader's wait end at its next poll. The capture raises what went wrong in its own words:
the driver's `DriverError` (reader, field, timeout, cancel) or the kernel's `EmvError` (this
card cannot pay this sale); `terminal.payment.capture` turns either into the sale's end, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from drivers.base import Cancelled, CardReader, DeviceLost, DeviceNotFound, DriverError
from drivers.nfc import NfcReader
from terminal.emv.card_data import CardData
from terminal.emv.kernel import KernelConfig, check_limits, read_card
from terminal.emv.terminal_data import Transaction
from terminal.money import Amount
from terminal.payment.api import Progress, ProgressCallback, Stage
from terminal.settings import Settings

log = logging.getLogger(__name__)

READING = "Reading the card — hold it still."
READ = "Card read — the customer can take it away."
CANCEL_REPEAT_S = 0.05


def card_capture(settings: Settings) -> NfcCardCapture | None:
    """The engine's CardCapture for `devices.nfc` (None when it is "none").

    Opens the reader now, so `posterm pay` reports a missing reader before the sale starts;
    raises the driver's `DriverError` (DeviceNotFound, DeviceBusy) with its sentence.
    """
    if settings.devices.nfc == "none":
        return None
    return NfcCardCapture(settings, NfcReader(settings.devices.nfc))


def open_reader(settings: Settings) -> NfcReader:
    """The reader configured in `devices.nfc`; `DeviceNotFound` when there is none."""
    path = settings.devices.nfc
    if path == "none":
        raise DeviceNotFound(
            "No NFC reader is configured (devices.nfc = none) — set it to the reader's path "
            "(usb, tty:USB0:pn532) or choose another payment method.",
            device=path,
        )
    return NfcReader(path)


class NfcCardCapture:
    """`terminal.payment.api.CardCapture` over a contactless reader."""

    def __init__(self, settings: Settings, reader: CardReader | None = None) -> None:
        self._settings = settings
        self._config = KernelConfig.from_settings(settings)
        self._reader = reader
        self._lock = threading.Lock()
        self._tapping = threading.Lock()
        """Held by a tap from the wait to the card's release: the next tap waits for it."""

    def use_settings(self, settings: Settings) -> None:
        """New kernel limits (contactless and CVM limits, TTQ) for the next tap; called by the
        engine between payments. The reader stays open: its device is not a fleet setting."""
        self._settings = settings
        self._config = KernelConfig.from_settings(settings)

    def _ensure_reader(self) -> CardReader:
        with self._lock:
            if self._reader is None:
                self._reader = open_reader(self._settings)
            return self._reader

    async def read_card(
        self, amount: Amount, cancel: asyncio.Event, progress: ProgressCallback
    ) -> CardData:
        check_limits(amount, self._config)  # refuse before the customer taps
        reader = await asyncio.to_thread(self._ensure_reader)
        loop = asyncio.get_running_loop()
        read: asyncio.Future[CardData] = loop.create_future()

        def report(stage: Stage, message: str) -> None:
            loop.call_soon_threadsafe(progress, Progress(stage, message))

        def hand_over(data: CardData) -> None:
            loop.call_soon_threadsafe(_resolve, read, data)

        # The engine has announced WAITING_FOR_CARD; the capture reports what follows.
        abandoned = threading.Event()
        work = asyncio.ensure_future(
            asyncio.to_thread(self._tap, reader, amount, report, hand_over, abandoned)
        )
        work.add_done_callback(_log_late_failure)
        cancelled = asyncio.ensure_future(cancel.wait())
        try:
            racing: set[asyncio.Future[Any]] = {work, read, cancelled}
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if read.done():
                card = read.result()  # the thread releases the card meanwhile
            else:
                if cancelled.done():
                    await _stop_waiting(reader, abandoned, work)
                card = await work
        except asyncio.CancelledError:
            abandoned.set()
            reader.cancel()
            raise
        finally:
            cancelled.cancel()
        if cancel.is_set():
            raise Cancelled("The sale was cancelled; the card was not charged.")
        return card

    def _tap(
        self,
        reader: CardReader,
        amount: Amount,
        report: Callable[[Stage, str], None],
        hand_over: Callable[[CardData], None],
        abandoned: threading.Event,
    ) -> CardData:
        """Wait, read, hand the data over, then release the card: the release (DESELECT,
        field off) is card I/O the sale need not wait for. One tap at a time per reader; a
        sale given up while its tap queued for the reader never starts waiting."""
        with self._tapping:
            if abandoned.is_set():
                raise Cancelled("The wait for a card was cancelled.")
            try:
                card = reader.wait_for_card(self._settings.nfc.tap_timeout_s)
            except DriverError as error:
                self._forget_lost(reader, error)
                raise
            report(Stage.READING_CARD, READING)
            transaction = Transaction(amount, self._config.country_numeric)
            release = getattr(card, "release", None)
            try:
                data = read_card(card, transaction, self._config)
            except DriverError as error:
                self._forget_lost(reader, error)
                _release(release)
                raise
            except BaseException:
                _release(release)
                raise
            report(Stage.CARD_READ, READ)
            hand_over(data)
            _release(release)
            return data

    def _forget_lost(self, reader: CardReader, error: DriverError) -> None:
        """After an unplugged reader, the next sale opens it afresh (plugged back in)."""
        if not isinstance(error, DeviceLost):
            return
        with self._lock:
            if self._reader is reader:
                self._reader = None
        with contextlib.suppress(Exception):
            reader.close()

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None


async def _stop_waiting(
    reader: CardReader, abandoned: threading.Event, work: asyncio.Future[CardData]
) -> None:
    """End the tap's wait: a reader clears its cancel when a wait begins, so a cancel that
    lands just before the thread starts waiting is repeated until the thread has stopped."""
    abandoned.set()
    while not work.done():
        reader.cancel()
        await asyncio.wait({work}, timeout=CANCEL_REPEAT_S)


def _resolve(read: asyncio.Future[CardData], data: CardData) -> None:
    if not read.done():
        read.set_result(data)


def _release(release: Callable[[], object] | None) -> None:
    """Release the card (DESELECT, field off); a card already gone is no error here."""
    if release is not None:
        with contextlib.suppress(DriverError):
            release()


def _log_late_failure(work: asyncio.Future[CardData]) -> None:
    """A failure after the data was handed over (or never awaited) is logged, not lost."""
    if not work.cancelled() and work.exception() is not None:
        log.debug("card capture thread ended with %r", work.exception())
