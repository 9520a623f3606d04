"""The camera and the merchant-code screens as the payment engine sees them.

`code_scanner(settings)` gives the engine a `CodeScanner` (or None when `devices.camera` is
"none"): `CameraCodeScanner` opens the camera for each scan and runs the blocking frame loop
(OpenCV reads, decoder) in a worker thread, so the event loop never waits; the engine's cancel
event closes the camera and ends the thread. It returns only customer-presented payment codes:
anything else in view (a shop's code, a web address) is reported through `on_rejected` and
scanning goes on. Failures are the drivers' own errors (`Timeout`, `Cancelled`, `DriverError`)
with the operator's sentence, which the engine turns into cancelled or error outcomes.

`code_presenter(settings)` gives a `CodePresenter`: the code in Unicode half blocks on a text
stream (the CLI's stderr) and, when `devices.display` is set, a prompt on the customer display.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from drivers.base import Cancelled, DriverError, FrameSource, LineDisplay, QrDecoder, Timeout
from drivers.camera import open_camera
from drivers.qr import CodeDeduplicator, RegionOfInterest, open_decoder
from drivers.qr import scan_for_code as scan_frames
from terminal.money import Amount
from terminal.payment.api import CodePresenter
from terminal.qr.errors import QrError
from terminal.qr.recognise import recognise_scanned_code
from terminal.qr.render import half_block_text
from terminal.settings import Settings

log = logging.getLogger("terminal.wiring.camera")


def code_scanner(settings: Settings) -> CameraCodeScanner | None:
    """The configured camera as the engine's `CodeScanner`, or None when there is none."""
    if settings.devices.camera.strip() in ("", "none"):
        return None
    return CameraCodeScanner.from_settings(settings)


def code_presenter(settings: Settings, write: Callable[[str], None] | None = None) -> CodePresenter:
    """The screen (stderr unless `write` is given) plus the customer display if configured."""
    text = TextCodePresenter(write or _stderr, ansi=False)
    presenters: list[CodePresenter] = [text]
    display = _open_display(settings)
    if display is not None:
        presenters.append(LineDisplayPresenter(display))
    return CodePresenters(presenters)


class CameraCodeScanner:
    """`CodeScanner` over OpenCV frames and the configured QR decoder."""

    def __init__(
        self,
        device: str,
        *,
        decoder: str = "zxing",
        roi: str = "",
        open_source: Callable[[str], FrameSource] = open_camera,
        on_rejected: Callable[[str], None] | None = None,
    ) -> None:
        self.device = device
        self.decoder_name = decoder
        self._roi = RegionOfInterest.parse(roi)
        self._open_source = open_source
        self._on_rejected = on_rejected or _stderr_line
        self._decoder: QrDecoder | None = None
        self._dedup = CodeDeduplicator()
        """Kept across scans: a code just rejected and still held up is not read again."""

    @classmethod
    def from_settings(cls, settings: Settings) -> CameraCodeScanner:
        return cls(settings.devices.camera, decoder=settings.qr.decoder, roi=settings.qr.roi)

    def use_settings(self, settings: Settings) -> None:
        """The decoder and region of a new configuration for the next scan; called by the
        engine between payments (the camera itself is not a fleet setting)."""
        if settings.qr.decoder != self.decoder_name:
            self.decoder_name = settings.qr.decoder
            self._decoder = None  # opened at the next scan
        self._roi = RegionOfInterest.parse(settings.qr.roi)

    async def scan(self, cancel: asyncio.Event, timeout_s: float) -> str:
        """The text of the first customer payment code in view; drivers' errors otherwise."""
        stop = threading.Event()
        sources: list[FrameSource] = []
        lock = threading.Lock()

        def stop_camera() -> None:
            stop.set()
            with lock:
                for source in sources:
                    source.close()

        async def watch_cancel() -> None:
            await cancel.wait()
            stop_camera()

        watcher = asyncio.create_task(watch_cancel())
        try:
            return await asyncio.to_thread(self._scan_blocking, stop, sources, lock, timeout_s)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            stop_camera()

    def _scan_blocking(
        self,
        stop: threading.Event,
        sources: list[FrameSource],
        lock: threading.Lock,
        timeout_s: float,
    ) -> str:
        deadline = time.monotonic() + timeout_s
        if self._decoder is None:
            self._decoder = open_decoder(self.decoder_name)
        source = self._open_source(self.device)
        with lock:
            sources.append(source)
            if stop.is_set():
                source.close()
                raise Cancelled("The scan was cancelled.")
        # A followed image sequence delivers nothing while no file is written: close the
        # source at the deadline so the scan ends with a timeout, as a live camera's would.
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()) + 0.05, source.close)
        watchdog.daemon = True
        watchdog.start()
        last_rejection = ""
        try:
            while True:
                try:
                    code = scan_frames(
                        source,
                        self._decoder,
                        timeout_s=timeout_s,
                        deadline=deadline,
                        cancel=stop,
                        roi=self._roi,
                        dedup=self._dedup,
                    )
                except Timeout as error:
                    if last_rejection and type(error) is Timeout:
                        raise Timeout(
                            f"{last_rejection} No payment code was shown in time."
                        ) from None
                    raise
                try:
                    recognise_scanned_code(code.text)
                except QrError as rejection:
                    last_rejection = rejection.sentence
                    log.info("scanned code refused: %s", rejection.sentence)
                    self._on_rejected(f"{rejection.sentence} Scanning again.")
                    continue
                return code.text
        finally:
            watchdog.cancel()
            source.close()


class TextCodePresenter:
    """Draws the merchant-presented code as half-block text on a text stream (the CLI's stderr).

    Not the operator screen's presenter (`terminal.ui.presenter.ScreenCodePresenter`), which
    hands the code to the Textual app to draw.
    """

    def __init__(self, write: Callable[[str], None], *, ansi: bool = False) -> None:
        self._write = write
        self._ansi = ansi

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
        until = expires_at.astimezone().strftime("%H:%M:%S")
        self._write(
            half_block_text(payload, ansi=self._ansi)
            + f"\nScan with your banking app to pay {amount} (valid until {until})"
            + f"\nPayment code: {payload}\n"
        )

    def clear(self) -> None:
        self._write("(payment code withdrawn)\n")


class LineDisplayPresenter:
    """Tells the customer on a text-only pole display to scan the code on the screen."""

    def __init__(self, display: LineDisplay) -> None:
        self._display = display

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
        self._display.show([f"PAY {amount}", "SCAN THE QR CODE"])

    def clear(self) -> None:
        self._display.clear()


class CodePresenters:
    """Several presenters at once (screen and customer display); one failing spares the rest."""

    def __init__(self, presenters: Sequence[CodePresenter]) -> None:
        self._presenters = list(presenters)

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
        for presenter in self._presenters:
            try:
                presenter.show(payload, amount, expires_at)
            except DriverError as error:
                log.warning("cannot show the payment code: %s", error.sentence)

    def clear(self) -> None:
        for presenter in self._presenters:
            try:
                presenter.clear()
            except DriverError as error:
                log.warning("cannot clear the payment code: %s", error.sentence)


def _open_display(settings: Settings) -> LineDisplay | None:
    """The customer display when configured and reachable; the screen alone otherwise."""
    from terminal.wiring.printer import open_customer_display

    try:
        return open_customer_display(settings)
    except DriverError as error:
        log.warning("customer display unavailable: %s", error.sentence)
        return None


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _stderr_line(text: str) -> None:
    _stderr(text + "\n")
