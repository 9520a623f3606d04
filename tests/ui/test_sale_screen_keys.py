"""The sale screen with an in-memory engine: keys, amounts, tip, QR, help and language.

Payment outcomes (approve, decline, offline, cancel, refund, batch) are tested against the
real engine and gateway simulator in test_payments_real_engine.py."""

from __future__ import annotations

import pytest
from textual.widgets import Digits

from terminal.money import Amount
from terminal.payment.api import EntryMethod
from terminal.settings import Settings
from terminal.ui.app import DemoAction, build_app
from terminal.ui.keypad import AmountEntry
from terminal.ui.screens.help import HelpScreen
from terminal.ui.screens.qr import QrScreen, countdown, parse_expiry
from terminal.ui.screens.tip import tip_for
from tests.ui.helpers import screen_text, text_of, type_keys, until
from tests.ui.memory_engine import MemoryEngine


def settings(**ui: object) -> Settings:
    return Settings.model_validate({"ui": ui} if ui else {})


@pytest.mark.parametrize(
    ("currency", "keys", "shown"),
    [
        ("EUR", "1234", "12.34"),
        ("JPY", "1234", "1,234"),
        ("KWD", "1234", "1.234"),
        ("EUR", "007", "0.07"),
        ("EUR", "123456789012", "1,234,567.89"),
    ],
)
def test_amount_fills_from_the_right_with_the_currencys_decimals(
    currency: str, keys: str, shown: str
) -> None:
    entry = AmountEntry(Amount.zero(currency).currency)
    for key in keys:
        entry.press(key)
    assert entry.amount.format_display("en").split(" ")[1] == shown


async def test_typing_correcting_and_clearing_the_amount() -> None:
    app = build_app(settings(), MemoryEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "12345")
        assert app.screen.query_one("#amount", Digits).value == "123.45"
        await pilot.press("backspace")
        assert app.screen.query_one("#amount", Digits).value == "12.34"
        await pilot.press("delete")
        assert app.screen.query_one("#amount", Digits).value == "0.00"


async def test_paying_without_an_amount_asks_for_one() -> None:
    engine = MemoryEngine()
    app = build_app(settings(), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        assert "Type the amount first." in text_of(pilot, "#stage")
        assert engine.requests == []


async def test_tip_preset_is_added_and_kept_apart() -> None:
    engine = MemoryEngine()
    app = build_app(settings(tip_presets=[5, 10, 15]), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "2000")
        await pilot.press("enter")
        await until(pilot, lambda: "Tip for" in screen_text(pilot))
        assert "10%  EUR 2.00" in screen_text(pilot)
        await pilot.press("2")
        await until(pilot, lambda: bool(engine.requests))
        request = engine.requests[0]
        assert request.amount == Amount.of(2200, "EUR")
        assert request.tip == Amount.of(200, "EUR")
        await until(pilot, lambda: "including tip EUR 2.00" in text_of(pilot, "#tip-line"))
        engine.tap()
        await until(pilot, lambda: "Approved" in text_of(pilot, "#stage"))


async def test_tip_amount_can_be_typed() -> None:
    engine = MemoryEngine()
    app = build_app(settings(tip_presets=[10]), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "1000")
        await pilot.press("enter")
        await until(pilot, lambda: "Tip for" in screen_text(pilot))
        await pilot.press("a")
        await type_keys(pilot, "1,5")
        await pilot.press("enter")
        await until(pilot, lambda: bool(engine.requests))
        assert engine.requests[0].tip == Amount.of(150, "EUR")


def test_tip_percentage_rounds_half_up_to_the_minor_unit() -> None:
    assert tip_for(Amount.of(1005, "EUR"), 10) == Amount.of(101, "EUR")
    assert tip_for(Amount.of(999, "JPY"), 15) == Amount.of(150, "JPY")


async def test_merchant_code_is_shown_scannable_with_amount_and_countdown() -> None:
    engine = MemoryEngine()
    app = build_app(settings(), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "990")
        await pilot.press("q")
        await until(
            pilot, lambda: isinstance(app.screen, QrScreen) and bool(app.screen.query("#qr"))
        )
        qr = app.screen
        assert isinstance(qr, QrScreen)
        text = screen_text(pilot)
        assert "EUR 9.90" in text
        assert "Expires in 1:5" in text or "Expires in 2:00" in text
        lines = qr.query_one("#qr").art.lines  # type: ignore[attr-defined]
        assert len(lines) <= 23 and len(lines[0]) <= 60  # fits 80 x 24 with the status bar
        engine.pay_code()
        await until(pilot, lambda: not isinstance(app.screen, QrScreen))
        assert "Approved" in text_of(pilot, "#stage")
        assert engine.requests[0].method is EntryMethod.QR_SHOW


async def test_escape_on_the_code_screen_cancels_the_payment() -> None:
    engine = MemoryEngine()
    app = build_app(settings(), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "500")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QrScreen))
        await pilot.press("escape")
        await until(pilot, lambda: "Cancelled" in text_of(pilot, "#stage"))
        assert engine.rows[-1].result == "cancelled"


def test_countdown_reads_minutes_and_seconds() -> None:
    expiry = parse_expiry("2026-11-22T10:02:05+00:00")
    now = parse_expiry("2026-11-22T10:00:00+00:00")
    assert expiry is not None and now is not None
    assert countdown(expiry, now) == "2:05"
    assert countdown(now, expiry) == "0:00"


async def test_help_lists_the_keys() -> None:
    app = build_app(settings(), MemoryEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(pilot)
        for words in (
            "Customer taps a card or phone",
            "Scan the customer's QR code",
            "Close the batch",
            "Refund / void (supervisor PIN)",
        ):
            assert words in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_demo_key_plays_the_customer() -> None:
    engine = MemoryEngine()
    app = build_app(
        settings(), engine, demo_actions=[DemoAction("f9", "Tap the demo card", engine.tap)]
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Tap the demo card" in text_of(pilot, "#methods")
        await type_keys(pilot, "1234")
        await pilot.press("enter")
        await until(pilot, lambda: "Present card" in text_of(pilot, "#stage"))
        await pilot.press("f9")
        await until(pilot, lambda: "Approved" in text_of(pilot, "#stage"))


async def test_screen_speaks_chinese_when_configured() -> None:
    engine = MemoryEngine()
    app = build_app(Settings.model_validate({"ui": {"language": "zh"}}), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "1234")
        await pilot.press("enter")
        await until(pilot, lambda: bool(engine.requests))
        engine.tap()
        await until(pilot, lambda: "批准" in text_of(pilot, "#stage"))
        assert "授权码 A1B2C3" in text_of(pilot, "#detail")


@pytest.mark.parametrize(
    ("currency", "keys", "digits", "shown"),
    [("JPY", "500", "500", "JPY 500"), ("KWD", "1250", "1.250", "KWD 1.250")],
)
async def test_a_sale_in_the_site_currency_shows_its_decimals(
    currency: str, keys: str, digits: str, shown: str
) -> None:
    """A shop whose site file sets only the currency: the screen types and shows its amounts."""
    engine = MemoryEngine(currency)
    app = build_app(Settings.model_validate({"terminal": {"currency": currency}}), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, keys)
        assert app.screen.query_one("#amount", Digits).value == digits
        await pilot.press("enter")
        await until(pilot, lambda: bool(engine.requests))
        assert engine.requests[0].amount.format_display() == shown
        engine.tap()
        await until(pilot, lambda: "Approved" in text_of(pilot, "#stage"))
        assert shown in screen_text(pilot)
