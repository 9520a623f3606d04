from __future__ import annotations

import pytest

from terminal.iso_codes import currency
from terminal.money import Amount
from terminal.qr.errors import BuildError
from terminal.qr.mpm import MerchantCodeRequest, build_merchant_code, parse_merchant_code
from terminal.qr.terminal_code import intent_payload
from terminal.settings import load_settings


def request(**changes: object) -> MerchantCodeRequest:
    values: dict[str, object] = {
        "merchant_account": {"26": {"00": "com.posterm.pay", "01": "MERCHANT0000001"}},
        "mcc": "5812",
        "currency": currency("EUR"),
        "country": "DE",
        "merchant_name": "CAFE AM MARKT",
        "merchant_city": "BERLIN",
        "amount": Amount.of(1234, "EUR"),
        "reference_label": "INV-42",
        "terminal_label": "POSTERM1",
    }
    values.update(changes)
    return MerchantCodeRequest(**values)  # type: ignore[arg-type]


def test_dynamic_code_carries_amount_reference_and_terminal() -> None:
    payload = build_merchant_code(request())
    code = parse_merchant_code(payload, strict=True)
    assert payload.startswith("000201010212")
    assert code.amount == Amount.of(1234, "EUR")
    assert code.fields["54"] == "12.34"
    assert code.reference_label == "INV-42"
    assert code.terminal_label == "POSTERM1"


@pytest.mark.parametrize(
    ("code", "minor", "text"),
    [("JPY", 1500, "1500"), ("KWD", 12345, "12.345"), ("EUR", 5, "0.05"), ("BHD", 1, "0.001")],
)
def test_amount_uses_the_currency_exponent(code: str, minor: int, text: str) -> None:
    payload = build_merchant_code(request(currency=currency(code), amount=Amount.of(minor, code)))
    read = parse_merchant_code(payload, strict=True)
    assert read.fields["54"] == text
    assert read.amount == Amount.of(minor, code)


def test_static_code_without_amount() -> None:
    payload = build_merchant_code(request(dynamic=False, amount=None, reference_label=""))
    code = parse_merchant_code(payload, strict=True)
    assert code.fields["01"] == "11"
    assert "54" not in code.fields


def test_builder_refuses_an_over_long_name_by_id() -> None:
    with pytest.raises(BuildError, match="59: longer than 25 characters"):
        build_merchant_code(request(merchant_name="THE VERY LONG NAME OF A BAKERY"))


def test_builder_refuses_an_over_long_reference() -> None:
    with pytest.raises(BuildError, match="62/05: longer than 25 characters"):
        build_merchant_code(request(reference_label="x" * 26))


def test_builder_refuses_zero_and_foreign_currency_amounts() -> None:
    with pytest.raises(BuildError, match="above zero"):
        build_merchant_code(request(amount=Amount.of(0, "EUR")))
    with pytest.raises(BuildError, match="USD"):
        build_merchant_code(request(amount=Amount.of(100, "USD")))


def test_dynamic_code_needs_an_amount() -> None:
    with pytest.raises(BuildError, match="needs an amount"):
        build_merchant_code(request(amount=None))


def test_intent_payload_follows_protocol_rule_5() -> None:
    settings = load_settings(environ={})
    payload = intent_payload(settings, Amount.of(990, "EUR"), "QI-7F3A9C2B")
    code = parse_merchant_code(payload, strict=True)
    assert code.dynamic
    assert code.amount == Amount.of(990, "EUR")
    assert code.reference_label == "QI-7F3A9C2B"
    assert code.terminal_label == settings.terminal.terminal_id
    assert code.merchant_name == settings.terminal.merchant_name
    assert code.fields["53"] == "978"
