"""What the application may know of hardware: small protocols and one error tree.

    DriverError                  every failure of a device, with an operator sentence
    ├── DeviceNotFound           nothing at the configured path (unplugged, wrong path)
    ├── DeviceBusy               another process or a kernel driver holds the device
    ├── DeviceLost               the device went away while in use
    ├── Timeout                  nothing happened within the allowed time
    ├── Cancelled                the wait was cancelled on purpose (operator, shutdown)
    ├── CardError                the card or phone in the field
    │   ├── CardRemoved          left the field during the exchange
    │   ├── NotAPaymentCard      a tag that is not an ISO-DEP payment card
    │   └── MultipleCards        more than one card in the field
    ├── CameraError              frames cannot be read
    └── PrinterError             receipt printer problems
        ├── PaperOut
        └── PrinterOffline

The application (`terminal/`) imports this module only; concrete drivers are opened in
the `terminal/wiring/` package.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class DriverError(Exception):
    """A device failed; `sentence` tells the operator what happened and what to do."""

    def __init__(self, sentence: str, *, device: str = "", detail: str = "") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.device = device
        self.detail = detail


class DeviceNotFound(DriverError):
    """Nothing answers at the configured device path."""


class DeviceBusy(DriverError):
    """The device exists but another process or a kernel driver holds it."""


class DeviceLost(DriverError):
    """The device disappeared while in use (unplugged, powered off)."""


class Timeout(DriverError):
    """Nothing happened within the allowed time."""


class Cancelled(DriverError):
    """The wait was cancelled on purpose."""


class CardError(DriverError):
    """A problem with the card or phone in the field."""


class CardRemoved(CardError):
    """The card or phone left the field during the exchange."""


class NotAPaymentCard(CardError):
    """The tag presented is not an ISO-DEP payment card."""


class MultipleCards(CardError):
    """More than one card is in the field."""


class CameraError(DriverError):
    """Frames cannot be read from the camera."""


class PrinterError(DriverError):
    """The receipt printer cannot print."""


class PaperOut(PrinterError):
    """The printer reports no paper."""


class PrinterOffline(PrinterError):
    """The printer does not answer."""


@runtime_checkable
class Card(Protocol):
    """An ISO-DEP (ISO 14443-4) card or phone in the field."""

    def transceive(self, apdu: bytes) -> bytes:
        """Send one command APDU and return the response APDU (data + SW1 SW2)."""
        ...


class CardReader(Protocol):
    """A contactless reader."""

    def wait_for_card(self, timeout: float) -> Card:
        """Block until a card is presented (or raise Timeout / Cancelled / DriverError)."""
        ...

    def cancel(self) -> None:
        """Make a pending `wait_for_card` raise `Cancelled` (callable from another thread)."""
        ...

    def close(self) -> None: ...


if TYPE_CHECKING:
    Frame = npt.NDArray[np.uint8]
else:

    def __getattr__(name: str) -> Any:
        """`Frame` is numpy's uint8 array type, built on first use: numpy takes a tenth of a
        second to import and most users of this module (the CLI, printers, NFC) never touch a
        frame."""
        if name == "Frame":
            import numpy as np
            import numpy.typing as npt

            return npt.NDArray[np.uint8]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class FrameSource(Protocol):
    """A camera or a simulated camera."""

    def frames(self) -> Iterator[Frame]:
        """Frames as BGR or grayscale arrays until the source ends or is closed."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DecodedCode:
    """A code found in a frame."""

    text: str
    symbology: str = "QRCode"


class QrDecoder(Protocol):
    """Finds QR codes in one frame."""

    name: str

    def decode(self, frame: Frame) -> list[DecodedCode]: ...


class ByteSink(Protocol):
    """A serial device (printer, customer display) that takes bytes."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PrintLine:
    """One line of a receipt as the printer driver lays it out (no knowledge of payments)."""

    text: str = ""
    bold: bool = False
    align: str = "left"
    """left, center or right."""
    large: bool = False
    """Double width and height, for the amount and the result."""
    qr: str = ""
    """If set, print this text as a QR code instead of a line of text."""


class ReceiptPrinter(Protocol):
    """A receipt printer: status check, then lines and a cut."""

    def check(self) -> None:
        """Raise `PaperOut` or `PrinterOffline` if a job would not print now."""
        ...

    def print_lines(self, lines: list[PrintLine], *, cut: bool = True) -> None:
        """Print the lines (raises `PrinterError` with an operator sentence)."""
        ...

    def close(self) -> None: ...


class LineDisplay(Protocol):
    """A customer-facing character display (typically 2 lines of 20 characters)."""

    columns: int
    rows: int

    def show(self, lines: list[str]) -> None: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...
