"""Pre-authorisation and capture slips, printed over ESC/POS to the fake printer and decoded:
a hold says it is a hold (not a charge), a capture shows the final amount with its tip."""

from __future__ import annotations

from simulators.printer import FakePrinter
from terminal.money import Amount
from terminal.receipts.model import Copy
from tests.unit.receipts.conftest import sale_view
from tests.unit.receipts.test_printed_receipt import (  # noqa: F401 - autouse fixture
    close_printing,
    printing,
    wait_for,
)

HOLD_ID = "5d0c9f7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def test_a_preauthorisation_slip_says_the_amount_is_held_not_charged(
    fake_printer: FakePrinter,
) -> None:
    view = sale_view(
        id=HOLD_ID,
        type="preauth",
        state="incremented",
        amount=Amount.of(10000, "EUR"),
        held=Amount.of(12000, "EUR"),
        expires_at="2026-11-29T13:05:09.000Z",
    )
    printing(fake_printer.url).print_receipt(view, (Copy.CUSTOMER,))
    text = wait_for(fake_printer, cuts=1)
    lines = text.splitlines()
    assert "PRE-AUTHORISATION" in lines
    assert "PRE-AUTHORISATION: AMOUNT HELD" in text
    assert "held on the card, not charged" in text
    assert any(line.startswith("HELD") and line.endswith("EUR 120.00") for line in lines)
    assert not any(line.startswith("TOTAL") for line in lines)
    assert any(line.startswith("Hold expires") and "29 Nov 2026" in line for line in lines)


def test_a_capture_slip_shows_the_final_amount_and_its_tip(fake_printer: FakePrinter) -> None:
    view = sale_view(
        type="capture",
        ref=HOLD_ID,
        amount=Amount.of(11800, "EUR"),
        tip=Amount.of(800, "EUR"),
    )
    printing(fake_printer.url).print_receipt(view, (Copy.CUSTOMER,))
    text = wait_for(fake_printer, cuts=1)
    lines = text.splitlines()
    assert "CAPTURE" in lines
    assert any(line.startswith("Amount") and line.endswith("EUR 110.00") for line in lines)
    assert any(line.startswith("Tip") and line.endswith("EUR 8.00") for line in lines)
    assert any(line.startswith("TOTAL") and line.endswith("EUR 118.00") for line in lines)
    assert any(line.startswith("Pre-authorisation") and HOLD_ID[:13] in line for line in lines)
    assert "Final amount charged" in text
    assert "AMOUNT HELD" not in text
