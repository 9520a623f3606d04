"""The printer's status bytes, and the customer pole display over a pyserial URL."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import DeviceNotFound, PaperOut, PrinterOffline
from drivers.display.serial_display import CLEAR, RESET, SerialLineDisplay, cursor, fit, frame
from drivers.printer.escpos_serial import is_wide, parse_status, status_problem
from simulators.printer import PAPER_OUT, PRINTER_OFFLINE, FakePrinter
from terminal.money import Amount
from terminal.ui.customer_display import CustomerDisplay
from tests.conftest import free_port


def test_healthy_printer_has_no_problem() -> None:
    assert status_problem(parse_status(b"\x12"), parse_status(b"\x12")) is None


def test_paper_end_is_paper_out_and_offline_bit_is_offline() -> None:
    assert isinstance(status_problem(0x12, parse_status(bytes([PAPER_OUT]))), PaperOut)
    assert isinstance(status_problem(parse_status(bytes([PRINTER_OFFLINE])), 0x12), PrinterOffline)


@pytest.mark.parametrize("reply", [b"", b"\x12\x12", b"\x10", b"\xff", b"\x00"])
def test_no_answer_or_a_wrong_byte_is_offline(reply: bytes) -> None:
    with pytest.raises(PrinterOffline) as caught:
        parse_status(reply)
    assert "printer" in caught.value.sentence


@given(st.binary(max_size=3))
def test_any_reply_is_a_status_or_offline(reply: bytes) -> None:
    try:
        byte = parse_status(reply)
    except PrinterOffline:
        return
    assert byte & 0x93 == 0x12


def test_chinese_text_needs_double_byte_mode() -> None:
    assert is_wide("批准") and not is_wide("Café Blue Door")


def test_lines_are_cut_or_padded_to_the_display() -> None:
    assert fit("EUR 12.34", 20) == "EUR 12.34           "
    assert fit("Please tap your card now", 20) == "Please tap your card"
    assert (
        frame(["A", "B", "C"], 20, 2)
        == CLEAR + cursor(1, 1) + b"A" + b" " * 19 + cursor(1, 2) + b"B" + b" " * 19
    )


def test_customer_display_shows_amount_then_result_over_socket() -> None:
    with FakePrinter() as device:  # any socket:// byte recorder will do
        display = CustomerDisplay(SerialLineDisplay(device.url))
        display.amount(Amount.of(1234, "EUR"))
        display.result("approved", Amount.of(1234, "EUR"))
        deadline = time.monotonic() + 5
        while b"APPROVED" not in device.received and time.monotonic() < deadline:
            time.sleep(0.02)
        data = device.received
        assert data.startswith(RESET)
        assert b"EUR 12.34" in data and b"Please tap your card" in data
        assert data.rindex(b"APPROVED") > data.index(b"Please tap your card")


def test_unreachable_display_is_a_sentence() -> None:
    with pytest.raises(DeviceNotFound) as caught:
        SerialLineDisplay(f"socket://127.0.0.1:{free_port()}", timeout=0.3)
    assert "devices.display" in caught.value.sentence


def test_a_display_that_goes_away_never_stops_a_sale() -> None:
    with FakePrinter() as device:
        display = CustomerDisplay(SerialLineDisplay(device.url))
    display.display._port.close()  # type: ignore[union-attr]
    display.amount(Amount.of(100, "EUR"))  # logged, not raised
    assert display.state == "offline"
