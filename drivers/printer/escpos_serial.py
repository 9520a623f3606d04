"""An ESC/POS receipt printer on any pyserial URL, driven through python-escpos.

The device string is a pyserial URL (`socket://`, `loop://`) or a port with options
(`/dev/ttyUSB0?baudrate=19200`), opened by `drivers.serial_url.open_serial`.

Before each job the printer is asked for its real-time status (DLE EOT 1: online/offline,
DLE EOT 4: roll paper sensor), so "out of paper" and "offline" reach the operator as a sentence
instead of a silently lost receipt. `loop://` echoes what it is sent and has no status to give,
so it is checked for reachability only.

Text with Chinese, Japanese or Korean characters is sent in the printer's double-byte mode
(FS & ... FS .) encoded as GB18030, which is what Chinese ESC/POS printers expect; other text
goes through python-escpos's code page selection.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import serial

from drivers.base import DeviceNotFound, PaperOut, PrinterError, PrinterOffline, PrintLine
from drivers.serial_url import open_serial


def _capabilities_cache() -> None:
    """python-escpos parses its 1 MB printer-capabilities file with pure-Python YAML on every
    import (about a second) and leaves an empty temp folder behind each time, unless told where
    to keep its pickled copy: a private per-user cache folder."""
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" in os.environ:
        return
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "posterm" / "escpos"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o022:
            return  # someone else's or writable by others: do not load pickles from it
    except OSError:
        return
    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)


_capabilities_cache()

from escpos.escpos import Escpos  # noqa: E402 - after the cache folder is chosen

DLE_EOT = b"\x10\x04"
STATUS_PRINTER = 1
STATUS_OFFLINE_CAUSE = 2
STATUS_PAPER = 4
KANJI_ON = b"\x1c\x26"
KANJI_OFF = b"\x1c\x2e"


def parse_status(reply: bytes) -> int:
    """The status byte of a DLE EOT reply, checked against its fixed bits (0xx1xx10b).

    Raises `PrinterOffline` when there is no reply or it is not a status byte.
    """
    if len(reply) != 1:
        raise PrinterOffline(
            "The receipt printer does not answer: check that it is switched on and connected.",
            device="printer",
        )
    byte = reply[0]
    if byte & 0x93 != 0x12:
        raise PrinterOffline(
            "The receipt printer answered something unexpected: check the printer port "
            "in devices.printer.",
            device="printer",
            detail=f"status byte 0x{byte:02x}",
        )
    return byte


def status_problem(printer_status: int, paper_status: int) -> PrinterError | None:
    """The problem the two status bytes report, if any (pure; used by `check`)."""
    if paper_status & 0x60:
        return PaperOut(
            "The receipt printer is out of paper: load a new roll, then reprint from history.",
            device="printer",
        )
    if printer_status & 0x08:
        return PrinterOffline(
            "The receipt printer is offline: close the cover and clear any error light, "
            "then reprint from history.",
            device="printer",
        )
    return None


def is_wide(text: str) -> bool:
    """True if `text` holds characters a printer must print in double-byte (CJK) mode."""
    return any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in text)


class _UrlEscpos(Escpos):  # type: ignore[misc]  # python-escpos ships no type hints
    """python-escpos over a pyserial URL or a port with ?options (`drivers.serial_url`)."""

    def __init__(self, url: str, timeout: float, **kwargs: Any) -> None:
        Escpos.__init__(self, **kwargs)
        self.url = url
        self.timeout = timeout

    def open(self, raise_not_found: bool = True) -> None:
        try:
            self.device = open_serial(self.url, timeout=self.timeout, write_timeout=self.timeout)
        except (serial.SerialException, OSError, ValueError) as error:
            self._device = False  # try again on the next job
            raise PrinterOffline(
                "The receipt printer cannot be reached: check its cable and power, "
                "and the address in devices.printer.",
                device="printer",
                detail=str(error),
            ) from None

    def _raw(self, msg: bytes) -> None:
        port = self.device
        if port is None:
            raise PrinterOffline("The receipt printer is not connected.", device="printer")
        try:
            port.write(msg)
        except (serial.SerialException, OSError) as error:
            self.close()
            raise PrinterOffline(
                "The receipt printer stopped answering while printing: check it, then "
                "reprint from history.",
                device="printer",
                detail=str(error),
            ) from None

    def _read(self) -> bytes:
        port = self.device
        if port is None:
            return b""
        try:
            data: bytes = port.read(1)
        except (serial.SerialException, OSError):
            return b""
        return data

    def close(self) -> None:
        port: Any = self._device
        if port:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass
        self._device = False


class SerialReceiptPrinter:
    """`drivers.base.ReceiptPrinter` for ESC/POS printers at a pyserial URL."""

    def __init__(self, url: str, *, timeout: float = 1.0, columns: int = 42) -> None:
        if not url or url == "none":
            raise DeviceNotFound("No receipt printer is configured (devices.printer).")
        self.url = url
        self.columns = columns
        self._has_status = urlsplit(url).scheme != "loop"
        self._escpos = _UrlEscpos(url, timeout)

    def check(self) -> None:
        printer = self._escpos
        _ = printer.device  # opens the port, raising PrinterOffline if it cannot
        if not self._has_status:
            return
        self._drain()
        printer_status = parse_status(printer.query_status(DLE_EOT + bytes([STATUS_PRINTER])))
        paper_status = parse_status(printer.query_status(DLE_EOT + bytes([STATUS_PAPER])))
        problem = status_problem(printer_status, paper_status)
        if problem is not None:
            raise problem

    def print_lines(self, lines: list[PrintLine], *, cut: bool = True) -> None:
        self.check()
        printer = self._escpos
        printer.hw("INIT")
        for line in lines:
            if line.qr:
                printer.set(align="center")
                printer.qr(line.qr, size=6, native=True)
                continue
            printer.set(
                align=line.align,
                bold=line.bold,
                double_height=line.large,
                double_width=line.large,
                normal_textsize=not line.large,
            )
            if is_wide(line.text):
                printer._raw(KANJI_ON + line.text.encode("gb18030", "replace") + KANJI_OFF)
                printer._raw(b"\n")
            else:
                printer.textln(line.text)
        printer.set(align="left", bold=False, normal_textsize=True)
        if cut:
            printer.cut()
        port = printer.device
        if port is not None and hasattr(port, "flush"):
            port.flush()

    def _drain(self) -> None:
        """Drop stale bytes (e.g. a late status reply) before asking again."""
        port = self._escpos.device
        if port is not None and hasattr(port, "reset_input_buffer"):
            try:
                port.reset_input_buffer()
            except (serial.SerialException, OSError):
                pass

    def close(self) -> None:
        self._escpos.close()
