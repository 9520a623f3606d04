"""A customer pole display (2 × 20 characters, ESC/POS-style command set) on a pyserial URL.

The common command set of these displays (Epson DM-D, CD5220 in ESC/POS mode): ESC @ resets,
FF (0x0C) clears, US $ x y moves the cursor; text is plain single-byte characters. Characters the
display cannot show are replaced by '?', never dropped, so amounts keep their width.
"""

from __future__ import annotations

import serial

from drivers.base import DeviceLost, DeviceNotFound
from drivers.serial_url import open_serial

RESET = b"\x1b\x40"
CLEAR = b"\x0c"


def cursor(column: int, row: int) -> bytes:
    """US $ x y: move to column x, row y (both from 1)."""
    return b"\x1f\x24" + bytes([column, row])


def fit(text: str, columns: int, align: str = "left") -> str:
    """`text` cut or padded to exactly `columns` characters."""
    text = text[:columns]
    if align == "right":
        return text.rjust(columns)
    if align == "center":
        return text.center(columns)
    return text.ljust(columns)


def frame(lines: list[str], columns: int, rows: int) -> bytes:
    """The bytes that show `lines` (one per row, extra lines dropped) on a cleared display."""
    data = CLEAR
    for row, line in enumerate(lines[:rows], start=1):
        text = fit(line, columns).encode("ascii", "replace")
        data += cursor(1, row) + text
    return data


class SerialLineDisplay:
    """`drivers.base.LineDisplay` over a pyserial URL or a port with ?options."""

    def __init__(self, url: str, *, columns: int = 20, rows: int = 2, timeout: float = 1.0) -> None:
        if not url or url == "none":
            raise DeviceNotFound("No customer display is configured (devices.display).")
        self.columns = columns
        self.rows = rows
        try:
            self._port = open_serial(url, timeout=timeout, write_timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as error:
            raise DeviceNotFound(
                "The customer display cannot be reached: check its cable and the address in "
                "devices.display.",
                device="display",
                detail=str(error),
            ) from None
        self._write(RESET)

    def show(self, lines: list[str]) -> None:
        self._write(frame(lines, self.columns, self.rows))

    def clear(self) -> None:
        self._write(CLEAR)

    def _write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as error:
            raise DeviceLost(
                "The customer display stopped answering: check its cable.",
                device="display",
                detail=str(error),
            ) from None

    def close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass
