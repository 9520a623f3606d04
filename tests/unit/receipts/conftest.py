"""Sample journal rows and a fake printer for the receipt tests."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from drivers.printer.escpos_serial import _UrlEscpos
from simulators.printer import FakePrinter
from terminal.i18n import set_language
from terminal.money import Amount
from terminal.payment.api import TransactionView

FULL_PAN = "4111111111111111"


def sale_view(**changes: object) -> TransactionView:
    values: dict[str, object] = {
        "id": "7f1c2a9e-5b8d-4c3e-9a1f-0d2e3f4a5b6c",
        "type": "sale",
        "state": "approved",
        "result": "approved",
        "amount": Amount.of(1234, "EUR"),
        "entry": "nfc",
        "masked_pan": "411111******1111",
        "created_at": datetime(2026, 11, 22, 13, 5, 9, tzinfo=UTC),
        "code": "00",
        "auth_code": "A1B2C3",
        "scheme": "visa",
        "aid": "A0000000031010",
    }
    values.update(changes)
    return TransactionView(**values)  # type: ignore[arg-type]


@pytest.fixture
def fake_printer() -> Iterator[FakePrinter]:
    with FakePrinter() as printer:
        yield printer


def open_printer_ports() -> list[str]:
    """Printer connections nobody closed. python-escpos objects sit in a reference cycle, so
    an unclosed one is closed later by the garbage collector, in whatever thread it runs, and
    pyserial's socket:// close sleeps 0.3 s there: inside the fake printer's thread that stalls
    its status answer past the driver's timeout, and a later test fails for no reason of its own
    (test_lines_fit_the_paper did)."""
    return [
        printer.url
        for printer in gc.get_objects()
        if isinstance(printer, _UrlEscpos) and getattr(printer, "_device", None)
    ]


@pytest.fixture(autouse=True)
def printers_are_closed() -> Iterator[None]:
    """Every test closes the printers it opens (see `open_printer_ports`)."""
    left_before = set(open_printer_ports())
    yield
    left = [url for url in open_printer_ports() if url not in left_before]
    assert left == [], f"printer connections left open: {left}"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    set_language("en")
    yield
    set_language("en")
