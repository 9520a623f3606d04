"""The camera and the merchant-code screens as the payment engine sees them.

`CameraCodeScanner` implements `terminal.payment.api.CodeScanner`: it opens the configured
camera for each scan, runs the blocking frame loop (OpenCV reads, decoder) in a worker thread so
the event loop never waits, and stops it when the engine's cancel event is set. Driver failures
become `PostermError`s carrying the driver's operator sentence.

`ScreenCodePresenter` and `LineDisplayPresenter` implement `CodePresenter`: the first draws
the code in Unicode half blocks on a text stream (the CLI's stderr), the second tells the
customer on a 2×20 pole display what to do while the code is shown elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from drivers.base import Cancelled, DriverError, FrameSource, QrDecoder, Timeout
from drivers.camera import open_camera
from drivers.qr import CodeDeduplicator, MultipleCodes, RegionOfInterest, open_decoder
from drivers.qr import scan_for_code as scan_frames
from terminal.errors import PostermError
from terminal.money import Amount
from terminal.qr.render import half_block_text
from terminal.settings import Settings


class CameraUnavailable(PostermError):
    """No camera, a camera that went away, or a video that cannot be read (exit 3)."""

    exit_code = 3


class NoCodeScanned(PostermError):
    """The customer showed no usable code in time (or two at once); nothing was charged."""

    exit_code = 1


class ScanCancelled(PostermError):
    """The operator cancelled the scan; nothing was charged."""

    exit_code = 1


class CameraCodeScanner:
    """`CodeScanner` over OpenCV frames and the configured QR decoder."""

    def __init__(
        self,
        device: str,
        *,
        decoder: str = "zxing",
        roi: str = "",
        open_source: Callable[[str], FrameSource] = open_camera,
    ) -> None:
        self.device = device
        self.decoder_name = decoder
        self._roi = RegionOfInterest.parse(roi)
        self._open_source = open_source
        self._decoder: QrDecoder | None = None
        self._dedup = CodeDeduplicator()
        """Kept across scans: a code just rejected and still held up is not read again."""

    @classmethod
    def from_settings(cls, settings: Settings) -> CameraCodeScanner:
        return cls(settings.devices.camera, decoder=settings.qr.decoder, roi=settings.qr.roi)

    async def scan(self, cancel: asyncio.Event, timeout_s: float) -> str:
        """The text of the first new code in view (raises a `PostermError` otherwise)."""
        stop = threading.Event()
        holder: list[FrameSource] = []
        closed = threading.Lock()

        def stop_camera() -> None:
            stop.set()
            with closed:
                for source in holder:
                    source.close()

        async def watch_cancel() -> None:
            await cancel.wait()
            stop_camera()

        watcher = asyncio.create_task(watch_cancel())
        try:
            return await asyncio.to_thread(self._scan_blocking, stop, holder, closed, timeout_s)
        except Cancelled:
            raise ScanCancelled("The scan was cancelled; nothing was charged.") from None
        except (Timeout, MultipleCodes) as error:
            raise NoCodeScanned(error.sentence) from None
        except DriverError as error:
            raise CameraUnavailable(error.sentence) from None
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            stop_camera()

    def _scan_blocking(
        self,
        stop: threading.Event,
        holder: list[FrameSource],
        closed: threading.Lock,
        timeout_s: float,
    ) -> str:
        if self._decoder is None:
            self._decoder = open_decoder(self.decoder_name)
        source = self._open_source(self.device)
        with closed:
            holder.append(source)
            if stop.is_set():
                source.close()
                raise Cancelled("The scan was cancelled.")
        try:
            code = scan_frames(
                source,
                self._decoder,
                timeout_s=timeout_s,
                cancel=stop,
                roi=self._roi,
                dedup=self._dedup,
            )
        finally:
            source.close()
        return code.text


class ScreenCodePresenter:
    """Draws the merchant-presented code as half-block text (e.g. on the CLI's stderr)."""

    def __init__(self, write: Callable[[str], None], *, ansi: bool = False) -> None:
        self._write = write
        self._ansi = ansi

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
        until = expires_at.astimezone().strftime("%H:%M:%S")
        self._write(
            half_block_text(payload, ansi=self._ansi)
            + f"\nScan with your banking app to pay {amount} (valid until {until})\n"
        )

    def clear(self) -> None:
        self._write("(payment code withdrawn)\n")


class Lines(Protocol):
    """What a customer pole display offers (`drivers.base.LineDisplay`)."""

    def show(self, lines: list[str]) -> None: ...

    def clear(self) -> None: ...


class LineDisplayPresenter:
    """Tells the customer on a text-only pole display to scan the code on the screen."""

    def __init__(self, display: Lines) -> None:
        self._display = display

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
        self._display.show([f"PAY {amount}", "SCAN THE QR CODE"])

    def clear(self) -> None:
        self._display.clear()


class CodePresenters:
    """Several presenters at once (screen and customer display); one failing spares the rest."""

    def __init__(self, presenters: Sequence[ScreenCodePresenter | LineDisplayPresenter]) -> None:
        self._presenters = list(presenters)

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
        for presenter in self._presenters:
            with contextlib.suppress(DriverError):
                presenter.show(payload, amount, expires_at)

    def clear(self) -> None:
        for presenter in self._presenters:
            with contextlib.suppress(DriverError):
                presenter.clear()
