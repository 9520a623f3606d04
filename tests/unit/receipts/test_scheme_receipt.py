"""What schemes require on a contactless slip, and amounts in every exponent, printed over
ESC/POS to the fake printer and decoded back to paper text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.printer.escpos_serial import SerialReceiptPrinter
from simulators.printer import FakePrinter
from terminal.money import Amount
from terminal.receipts.model import Copy
from terminal.receipts.printing import ReceiptPrinting
from terminal.settings import Settings
from tests.unit.receipts.conftest import FULL_PAN, sale_view
from tests.unit.receipts.test_printed_receipt import wait_for

SETTINGS = Settings.model_validate(
    {
        "terminal": {
            "merchant_name": "Kissa Hoshi",
            "merchant_city": "Tokyo",
            "terminal_id": "TOKYO001",
            "merchant_id": "JP0000000000042",
            "currency": "JPY",
            "country": "JP",
        }
    }
)

CONTACTLESS = {
    "label": "VISA CREDIT",
    "cryptogram_type": "ARQC",
    "cvm": "no_cvm",
    "amount": Amount.of(500, "JPY"),
}


@pytest.fixture
def printing(fake_printer: FakePrinter) -> Iterator[ReceiptPrinting]:
    service = ReceiptPrinting(SETTINGS, SerialReceiptPrinter(fake_printer.url, timeout=3.0))
    yield service
    service.close()


def printed(
    printing: ReceiptPrinting, printer: FakePrinter, copies: tuple[Copy, ...], **view: object
) -> str:
    report = printing.print_receipt(sale_view(**{**CONTACTLESS, **view}), copies)
    assert report.printed, report.sentence
    return wait_for(printer, cuts=len(copies))


def line_with(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(label))


def test_both_copies_carry_what_schemes_require(
    printing: ReceiptPrinting, fake_printer: FakePrinter
) -> None:
    text = printed(printing, fake_printer, (Copy.MERCHANT, Copy.CUSTOMER))
    merchant, customer = text.split("MERCHANT COPY")
    for copy, card in ((merchant, "411111******1111"), (customer, "************1111")):
        assert line_with(copy, "Application").endswith("VISA CREDIT")
        assert line_with(copy, "AID").endswith("A0000000031010")
        assert line_with(copy, "Entry").endswith("Contactless")
        assert line_with(copy, "Card").endswith(card)
        assert line_with(copy, "Auth code").endswith("A1B2C3")
        assert line_with(copy, "Cryptogram").endswith("ARQC")
        assert line_with(copy, "Terminal").endswith("TOKYO001")
        assert line_with(copy, "Merchant").endswith("JP0000000000042")
        assert "Kissa Hoshi" in copy and "Tokyo" in copy
        assert line_with(copy, "TOTAL").endswith("JPY 500")
        assert "No signature required" in copy
    assert FULL_PAN not in text


def test_a_card_that_approved_offline_prints_tc(
    printing: ReceiptPrinting, fake_printer: FakePrinter
) -> None:
    text = printed(printing, fake_printer, (Copy.CUSTOMER,), cryptogram_type="TC")
    assert line_with(text, "Cryptogram").endswith(" TC")


@pytest.mark.parametrize(
    ("cvm", "said", "not_said"),
    [
        ("no_cvm", ["No signature required"], ["PIN verified", "Signature"]),
        ("cdcvm", ["Verified on device", "No signature required"], ["PIN verified"]),
        ("pin", ["PIN verified"], ["No signature required", "Signature"]),
    ],
)
def test_the_cvm_line_follows_the_cvm_performed(
    printing: ReceiptPrinting,
    fake_printer: FakePrinter,
    cvm: str,
    said: list[str],
    not_said: list[str],
) -> None:
    lines = [
        line.strip()
        for line in printed(printing, fake_printer, (Copy.CUSTOMER,), cvm=cvm).splitlines()
    ]
    for text in said:
        assert text in lines
    for text in not_said:
        assert text not in lines


def test_a_signature_leaves_room_to_sign_on_the_merchant_copy_only(
    printing: ReceiptPrinting, fake_printer: FakePrinter
) -> None:
    text = printed(printing, fake_printer, (Copy.MERCHANT, Copy.CUSTOMER), cvm="signature")
    merchant, customer = text.split("MERCHANT COPY")
    assert "Signature" in [line.strip() for line in merchant.splitlines()]
    assert any(line.startswith("X___") for line in merchant.splitlines())
    assert not any(line.startswith("X___") for line in customer.splitlines())
    assert "No signature required" not in text


@pytest.mark.parametrize(
    "view",
    [
        {"result": "declined", "state": "declined", "code": "51", "auth_code": ""},
        {"type": "refund"},
        {"cvm": ""},  # a row from before the CVM was journaled
        {"cvm": "retina-scan"},  # a value this version does not know
    ],
)
def test_no_cvm_claim_without_an_approved_sale_and_a_known_cvm(
    printing: ReceiptPrinting, fake_printer: FakePrinter, view: dict[str, object]
) -> None:
    text = printed(printing, fake_printer, (Copy.CUSTOMER,), **view)
    for claim in ("No signature required", "PIN verified", "Verified on device"):
        assert claim not in text


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Amount.of(500, "JPY"), "JPY 500"),
        (Amount.of(1_234_567, "JPY"), "JPY 1,234,567"),
        (Amount.of(1250, "KWD"), "KWD 1.250"),
        (Amount.of(1_000_005, "BHD"), "BHD 1,000.005"),
        (Amount.of(1234, "EUR"), "EUR 12.34"),
        (Amount.of(5000, "CLF"), "CLF 0.5000"),
    ],
)
def test_amounts_print_with_the_currencys_decimals(
    printing: ReceiptPrinting, fake_printer: FakePrinter, amount: Amount, shown: str
) -> None:
    text = printed(printing, fake_printer, (Copy.CUSTOMER,), amount=amount)
    assert line_with(text, "TOTAL").endswith(" " + shown)


def test_a_tip_in_a_currency_without_decimals(
    printing: ReceiptPrinting, fake_printer: FakePrinter
) -> None:
    view = {"amount": Amount.of(1100, "JPY"), "tip": Amount.of(100, "JPY")}
    text = printed(printing, fake_printer, (Copy.CUSTOMER,), **view)
    assert line_with(text, "Amount").endswith("JPY 1,000")
    assert line_with(text, "Tip").endswith("JPY 100")
    assert line_with(text, "TOTAL").endswith("JPY 1,100")
