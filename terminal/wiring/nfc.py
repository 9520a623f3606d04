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

        def report(stage: Stage, message: str) -> None:
            loop.call_soon_threadsafe(progress, Progress(stage, message))

        # The engine has announced WAITING_FOR_CARD; the capture reports what follows.
        work = asyncio.ensure_future(asyncio.to_thread(self._tap, reader, amount, report))
        cancelled = asyncio.ensure_future(cancel.wait())
        try:
            await asyncio.wait({work, cancelled}, return_when=asyncio.FIRST_COMPLETED)
            if cancelled.done():
                reader.cancel()
            card = await work
        except asyncio.CancelledError:
            reader.cancel()
            raise
        finally:
            cancelled.cancel()
        if cancel.is_set():
            raise Cancelled("The sale was cancelled; the card was not charged.")
        return card

    def _tap(
        self, reader: CardReader, amount: Amount, report: Callable[[Stage, str], None]
    ) -> CardData:
        try:
            card = reader.wait_for_card(self._settings.nfc.tap_timeout_s)
        except DriverError as error:
            self._forget_lost(reader, error)
            raise
        report(Stage.READING_CARD, READING)
        transaction = Transaction(amount, self._config.country_numeric)
        try:
            data = read_card(card, transaction, self._config)
        except DriverError as error:
            self._forget_lost(reader, error)
            raise
        finally:
            release = getattr(card, "release", None)
            if release is not None:
                with contextlib.suppress(DriverError):
                    release()
        report(Stage.CARD_READ, READ)
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
