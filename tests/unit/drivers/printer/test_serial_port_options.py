"""Printer and customer display on a real serial port given as `PORT?baudrate=...`.

A pty pair stands in for the USB-serial adapter: the drivers open the slave side by name, the
test reads (and, for the printer, answers status requests on) the master side, and the line
speed pyserial set is read back from the terminal settings of the slave.
"""

from __future__ import annotations

import os
import select
import termios
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from drivers.base import DeviceNotFound, PrinterOffline, PrintLine
from drivers.display.serial_display import RESET, SerialLineDisplay
from drivers.printer.escpos_serial import SerialReceiptPrinter
from simulators.printer import FakePrinter
from tests.conftest import free_port
from tests.unit.receipts.escpos_decode import decode


class PtyDevice:
    """The far end of a pty: records what the driver writes, answers DLE EOT with "healthy"."""

    def __init__(self, answers_status: bool = False) -> None:
        self.master, self.slave = os.openpty()
        self.name = os.ttyname(self.slave)
        self.answers_status = answers_status
        self._received = b""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            with self._lock:
                self._received += data
            if self.answers_status:
                for _ in range(data.count(b"\x10\x04")):
                    os.write(self.master, b"\x12")

    def received(self, until: bytes, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if until in self._received:
                    return self._received
            time.sleep(0.02)
        with self._lock:
            return self._received

    def speed(self) -> tuple[int, int]:
        attributes = termios.tcgetattr(self.slave)
        return attributes[4], attributes[5]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty_device() -> Iterator[PtyDevice]:
    device = PtyDevice(answers_status=True)
    yield device
    device.close()


def test_display_port_options_reach_the_serial_port(pty_device: PtyDevice) -> None:
    display = SerialLineDisplay(f"{pty_device.name}?baudrate=19200")
    try:
        display.show(["EUR 12.34", "Please tap"])
        data = pty_device.received(until=b"Please tap")
        assert pty_device.speed() == (termios.B19200, termios.B19200)
    finally:
        display.close()
    assert data.startswith(RESET)
    assert b"EUR 12.34" in data and b"Please tap" in data


def test_printer_port_options_reach_the_serial_port(pty_device: PtyDevice) -> None:
    printer = SerialReceiptPrinter(f"{pty_device.name}?baudrate=19200&rtscts=0", timeout=1.0)
    try:
        printer.print_lines([PrintLine("Cafe Blue Door"), PrintLine("411111******1111")])
        data = pty_device.received(until=b"411111******1111")
        assert pty_device.speed() == (termios.B19200, termios.B19200)
    finally:
        printer.close()
    assert b"Cafe Blue Door" in data and b"411111******1111" in data


def test_a_different_speed_is_not_the_default(pty_device: PtyDevice) -> None:
    display = SerialLineDisplay(f"{pty_device.name}?baudrate=38400")
    try:
        assert pty_device.speed() == (termios.B38400, termios.B38400)
    finally:
        display.close()


def test_a_misspelt_port_option_is_a_sentence_naming_the_setting(pty_device: PtyDevice) -> None:
    with pytest.raises(DeviceNotFound) as caught:
        SerialLineDisplay(f"{pty_device.name}?baud=19200")
    assert "devices.display" in caught.value.sentence
    assert "baud" in str(caught.value.detail)
    with pytest.raises(PrinterOffline) as printer_error:
        SerialReceiptPrinter(f"{pty_device.name}?baud=19200").check()
    assert "devices.printer" in printer_error.value.sentence


def test_socket_urls_still_work_for_printer_and_display() -> None:
    with FakePrinter() as device:
        printer = SerialReceiptPrinter(device.url)
        printer.print_lines([PrintLine("over a socket")])
        printer.close()
        display = SerialLineDisplay(device.url)
        display.show(["on the pole"])
        display.close()
        deadline = time.monotonic() + 5
        while b"on the pole" not in device.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert b"over a socket" in device.received and b"on the pole" in device.received


def test_loop_urls_still_work_for_printer_and_display(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyserial's loop:// hands back what was written: the receipt and the prompt arrived."""
    from drivers.serial_url import open_serial

    opened: list[Any] = []

    def recording_open_serial(url: str, **settings: Any) -> Any:
        port = open_serial(url, **settings)
        opened.append(port)
        return port

    monkeypatch.setattr("drivers.printer.escpos_serial.open_serial", recording_open_serial)
    monkeypatch.setattr("drivers.display.serial_display.open_serial", recording_open_serial)

    printer = SerialReceiptPrinter("loop://")
    try:
        printer.print_lines([PrintLine("looped receipt")])
        printed = opened[0].read(opened[0].in_waiting)
    finally:
        printer.close()
    display = SerialLineDisplay("loop://")
    try:
        display.show(["looped prompt"])
        shown = opened[1].read(opened[1].in_waiting)
    finally:
        display.close()

    paper = decode(printed)
    assert "looped receipt" in paper.lines and paper.cuts == 1
    assert shown.startswith(RESET) and b"looped prompt" in shown


def test_a_missing_port_is_still_a_sentence() -> None:
    with pytest.raises(DeviceNotFound):
        SerialLineDisplay("/dev/posterm-no-such-port?baudrate=19200")
    with pytest.raises(PrinterOffline):
        SerialReceiptPrinter(f"socket://127.0.0.1:{free_port()}", timeout=0.3).check()
