"""Receipts printed over ESC/POS to a fake printer on socket://, decoded back to paper text."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from drivers.printer.escpos_serial import SerialReceiptPrinter
from simulators.printer import FakePrinter
from terminal.i18n import set_language
from terminal.money import Amount
from terminal.receipts.layout import DEFAULT_COLUMNS
from terminal.receipts.model import Copy
from terminal.receipts.printing import ReceiptPrinting
from terminal.settings import Settings
from tests.conftest import free_port
from tests.unit.receipts.conftest import FULL_PAN, sale_view
from tests.unit.receipts.escpos_decode import decode

SETTINGS = Settings.model_validate(
    {
        "terminal": {
            "merchant_name": "Café Blue Door",
            "merchant_address": "Rua Augusta 100",
            "terminal_id": "CAFE0001",
            "merchant_id": "123456789012345",
        }
    }
)


OPENED: list[ReceiptPrinting] = []


@pytest.fixture(autouse=True)
def close_printing() -> Iterator[None]:
    """Close what each test opened, in the test's own thread: left to the garbage collector, a
    connection is closed in whichever thread it runs (see conftest `open_printer_ports`)."""
    yield
    while OPENED:
        OPENED.pop().close()


def printing(url: str, timeout: float = 3.0, columns: int = DEFAULT_COLUMNS) -> ReceiptPrinting:
    service = ReceiptPrinting(SETTINGS, SerialReceiptPrinter(url, timeout=timeout), columns=columns)
    OPENED.append(service)
    return service


def wait_for(printer: FakePrinter, cuts: int) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        printout = decode(printer.received)
        if printout.cuts >= cuts:
            return printout.text
        time.sleep(0.02)
    raise AssertionError(f"printer got {decode(printer.received).cuts} cuts, wanted {cuts}")


def test_both_copies_show_the_masked_pan_and_never_the_full_one(fake_printer: FakePrinter) -> None:
    report = printing(fake_printer.url).print_receipt(sale_view())
    assert report.printed, report.sentence
    text = wait_for(fake_printer, cuts=2)
    merchant, customer = text.split("MERCHANT COPY")
    assert "411111******1111" in merchant
    assert "************1111" in customer
    assert "411111" not in customer
    assert FULL_PAN not in text
    for field in (
        "Café Blue Door",
        "Rua Augusta 100",
        "CAFE0001",
        "123456789012345",
        "22 Nov 2026",
        "VISA",
        "A0000000031010",
        "Contactless",
        "A1B2C3",
        "EUR 12.34",
        "APPROVED",
        "CUSTOMER COPY",
    ):
        assert field in text, field


def test_a_journal_row_with_an_unmasked_pan_still_prints_masked(fake_printer: FakePrinter) -> None:
    printing(fake_printer.url).print_receipt(sale_view(masked_pan=FULL_PAN), (Copy.MERCHANT,))
    text = wait_for(fake_printer, cuts=1)
    assert FULL_PAN not in text
    assert "************1111" in text


def test_offline_approval_says_so(fake_printer: FakePrinter) -> None:
    view = sale_view(result="approved_offline", state="approved_offline", auth_code="", code="")
    printing(fake_printer.url).print_receipt(view, (Copy.CUSTOMER,))
    text = wait_for(fake_printer, cuts=1)
    assert "APPROVED OFFLINE" in text
    assert "sent to the bank later" in text


def test_a_decline_prints_the_reason(fake_printer: FakePrinter) -> None:
    view = sale_view(
        result="declined", state="declined", code="51", auth_code="", message="Insufficient funds."
    )
    printing(fake_printer.url).print_receipt(view, (Copy.CUSTOMER,))
    text = wait_for(fake_printer, cuts=1)
    assert "DECLINED" in text and "Insufficient funds." in text and "51" in text


def test_tip_is_printed_apart_from_the_amount(fake_printer: FakePrinter) -> None:
    view = sale_view(amount=Amount.of(1100, "EUR"), tip=Amount.of(100, "EUR"))
    printing(fake_printer.url).print_receipt(view, (Copy.CUSTOMER,))
    lines = wait_for(fake_printer, cuts=1).splitlines()
    assert any(line.startswith("Amount") and line.endswith("EUR 10.00") for line in lines)
    assert any(line.startswith("Tip") and line.endswith("EUR 1.00") for line in lines)
    assert any(line.startswith("TOTAL") and line.endswith("EUR 11.00") for line in lines)


def test_out_of_paper_is_a_sentence_and_nothing_is_printed(fake_printer: FakePrinter) -> None:
    fake_printer.paper = False
    service = printing(fake_printer.url)
    report = service.print_receipt(sale_view())
    assert not report.printed
    assert "out of paper" in report.sentence and "reprint from history" in report.sentence
    assert service.check() == "paper out"
    assert decode(fake_printer.received).cuts == 0
    fake_printer.paper = True
    assert service.print_receipt(sale_view()).printed  # reprint once paper is back
    wait_for(fake_printer, cuts=2)


def test_a_printer_that_does_not_answer_is_reported_offline(fake_printer: FakePrinter) -> None:
    fake_printer.answers_status = False
    report = printing(fake_printer.url, timeout=0.2).print_receipt(sale_view())
    assert not report.printed
    assert report.state == "offline"
    assert "offline" in report.sentence


def test_a_printer_that_is_not_there_is_reported_offline() -> None:
    service = printing(f"socket://127.0.0.1:{free_port()}", timeout=0.2)
    report = service.print_receipt(sale_view())
    assert not report.printed and report.state == "offline"
    assert "recorded" in report.sentence


def test_loop_url_prints_without_a_status_answer() -> None:
    service = printing("loop://")
    assert service.print_receipt(sale_view()).printed


@pytest.mark.parametrize("columns", [32, 42])
def test_lines_fit_the_paper(fake_printer: FakePrinter, columns: int) -> None:
    service = printing(fake_printer.url, timeout=1.0, columns=columns)  # the driver's default
    report = service.print_receipt(sale_view(), (Copy.MERCHANT,))
    assert report.printed, report.sentence
    for line in wait_for(fake_printer, cuts=1).splitlines():
        assert len(line) <= columns, line


def test_chinese_receipt_is_printed_in_double_byte_mode(fake_printer: FakePrinter) -> None:
    set_language("zh")
    printing(fake_printer.url).print_receipt(sale_view(), (Copy.CUSTOMER,))
    text = wait_for(fake_printer, cuts=1)
    assert "批准" in text  # "approved"
    assert "************1111" in text


def test_a_cross_border_wallet_payment_prints_the_wallet_debit_and_rate(
    fake_printer: FakePrinter,
) -> None:
    view = sale_view(
        entry="qr_cpm",
        masked_pan="",
        scheme="alipay",
        aid="",
        amount=Amount.of(1250, "EUR"),
        paid_with="Paid with Alipay — CNY 96.40 at 7.7120",
    )
    printing(fake_printer.url).print_receipt(view)
    text = wait_for(fake_printer, cuts=2)
    assert text.count("Paid with Alipay — CNY 96.40 at 7.7120") == 2  # both copies
    assert "EUR 12.50" in text
