"""History, supervisor PIN, reprint and end of day with the in-memory engine (screen logic);
the same flows against the real engine are in test_payments_real_engine.py."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from drivers.printer.escpos_serial import SerialReceiptPrinter
from simulators.printer import FakePrinter
from terminal.money import Amount
from terminal.receipts.printing import ReceiptPrinting
from terminal.settings import Settings
from terminal.ui.app import build_app
from terminal.ui.screens.end_of_day import EndOfDayScreen
from terminal.ui.screens.history import HistoryScreen
from terminal.ui.screens.supervisor import SupervisorScreen
from terminal.ui.screens.transaction import TransactionScreen
from tests.ui.helpers import cheap_pin_hash, screen_text, text_of, type_keys, until
from tests.ui.memory_engine import BATCH_NOT_CLOSED, MemoryEngine

PIN = "4321"
PIN_HASH = cheap_pin_hash(PIN)


def settings(tmp_path: Path, **ui: object) -> Settings:
    return Settings.model_validate(
        {"terminal": {"data_dir": str(tmp_path)}, "ui": {"supervisor_pin_hash": PIN_HASH, **ui}}
    )


async def sell(pilot, engine: MemoryEngine, keys: str) -> None:  # type: ignore[no-untyped-def]
    await type_keys(pilot, keys)
    await pilot.press("enter")
    await until(pilot, lambda: "Present card" in text_of(pilot, "#stage"))
    engine.tap()
    await until(
        pilot,
        lambda: "Approved" in text_of(pilot, "#stage") or "Declined" in text_of(pilot, "#stage"),
    )
    await pilot.press("enter")


async def test_history_search_details_and_refund_after_a_wrong_then_right_pin(
    tmp_path: Path,
) -> None:
    engine = MemoryEngine()
    app = build_app(settings(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await sell(pilot, engine, "1250")
        await sell(pilot, engine, "999")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert len(app.screen.rows) == 2  # type: ignore[attr-defined]
        await pilot.press("slash")
        await type_keys(pilot, "000000000001")  # the first sale's transaction id
        await until(pilot, lambda: len(app.screen.rows) == 1)  # type: ignore[attr-defined]
        await pilot.press("enter")  # leaves the search box
        await pilot.press("enter")  # opens the row
        await until(pilot, lambda: isinstance(app.screen, TransactionScreen))
        assert "EUR 12.50" in screen_text(pilot) and "476173******0119" in screen_text(pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, SupervisorScreen))
        await type_keys(pilot, "0000")
        await pilot.press("enter")
        await until(pilot, lambda: "Wrong supervisor PIN" in text_of(pilot, "#pin-result"))
        assert "Nothing was refunded." in text_of(pilot, "#pin-result")
        assert [r.type for r in engine.rows] == ["sale", "sale"]
        await type_keys(pilot, PIN)
        await pilot.press("enter")
        await until(pilot, lambda: "Refund approved" in text_of(pilot, "#pin-result"))
        assert "EUR 12.50" in text_of(pilot, "#pin-result")
        assert [r.type for r in engine.rows] == ["sale", "sale", "refund"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))


async def test_partial_refund_amount_and_too_much(tmp_path: Path) -> None:
    engine = MemoryEngine()
    app = build_app(settings(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await sell(pilot, engine, "2000")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TransactionScreen))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, SupervisorScreen))
        amount_box = app.screen.query_one("#refund-amount")
        amount_box.value = "25.00"  # type: ignore[attr-defined]
        amount_box.focus()
        await pilot.press("enter")  # to the PIN box
        await type_keys(pilot, PIN)
        await pilot.press("enter")
        await until(pilot, lambda: "more than is left" in text_of(pilot, "#pin-result"))
        amount_box.value = "5.00"  # type: ignore[attr-defined]
        await type_keys(pilot, PIN)
        await pilot.press("enter")
        await until(pilot, lambda: "Refund approved: EUR 5.00" in text_of(pilot, "#pin-result"))
        assert engine.rows[-1].amount == Amount.of(500, "EUR")


async def test_three_wrong_pins_lock_the_prompt(tmp_path: Path) -> None:
    engine = MemoryEngine()
    app = build_app(settings(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await sell(pilot, engine, "1000")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TransactionScreen))
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, SupervisorScreen))
        for _ in range(3):
            await type_keys(pilot, "1111")
            await pilot.press("enter")
            await until(pilot, lambda: not app.screen.busy)  # type: ignore[attr-defined]
        assert "Too many wrong PINs" in text_of(pilot, "#pin-result")
        await type_keys(pilot, PIN)  # even the right PIN waits for the lock
        await pilot.press("enter")
        await until(pilot, lambda: not app.screen.busy)  # type: ignore[attr-defined]
        assert "Too many wrong PINs" in text_of(pilot, "#pin-result")
        assert engine.rows[-1].state == "approved"


async def test_refund_is_not_offered_without_a_supervisor_pin(tmp_path: Path) -> None:
    engine = MemoryEngine()
    app = build_app(settings(tmp_path, supervisor_pin_hash=""), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await sell(pilot, engine, "1000")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TransactionScreen))
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, TransactionScreen)
        assert any("supervisor PIN" in str(n.message) for n in app._notifications)


async def test_out_of_paper_keeps_the_sale_and_reprint_works(tmp_path: Path) -> None:
    engine = MemoryEngine()
    with FakePrinter() as printer:
        printer.paper = False
        conf = settings(tmp_path)
        printing = ReceiptPrinting(conf, SerialReceiptPrinter(printer.url))
        app = build_app(conf, engine, printing=printing)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await type_keys(pilot, "1234")
            await pilot.press("enter")
            await until(pilot, lambda: "Present card" in text_of(pilot, "#stage"))
            engine.tap()
            await until(
                pilot, lambda: any("out of paper" in str(n.message) for n in app._notifications)
            )
            assert "Approved" in text_of(pilot, "#stage")
            await until(pilot, lambda: "NO PAPER" in text_of(pilot, "#status"))
            assert engine.rows[-1].result == "approved"
            printer.paper = True
            await pilot.press("h")
            await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, TransactionScreen))
            await pilot.press("p")
            await until(
                pilot, lambda: any("Receipt printed" in str(n.message) for n in app._notifications)
            )
            assert b"476173******0119" in printer.received


async def test_end_of_day_totals_and_close_batch(tmp_path: Path) -> None:
    engine = MemoryEngine()
    app = build_app(settings(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await sell(pilot, engine, "1000")
        await sell(pilot, engine, "1251")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EndOfDayScreen))
        rows = [
            app.screen.query_one("#totals").get_row_at(i)  # type: ignore[attr-defined]
            for i in range(2)
        ]
        assert ["Sale", "Contactless", "Approved", "1", "EUR 10.00"] in rows
        assert ["Sale", "Contactless", "Declined", "1", "EUR 12.51"] in rows
        await pilot.press("b")
        assert "Close the batch" in text_of(pilot, "#batch")
        await pilot.press("y")
        await until(pilot, lambda: "balanced" in text_of(pilot, "#batch"))
        engine.batch_answer = "out_of_balance"
        await pilot.press("b", "y")
        await until(pilot, lambda: "OUT OF BALANCE" in text_of(pilot, "#batch"))
        engine.batch_answer = "error"  # the bank does not answer: the batch stays open
        await pilot.press("b", "y")
        await until(pilot, lambda: "could not be closed" in text_of(pilot, "#batch"))
        assert text_of(pilot, "#batch") == "✘ " + BATCH_NOT_CLOSED


async def test_an_offline_sale_the_bank_declines_later_is_announced_and_marked(
    tmp_path: Path,
) -> None:
    engine = MemoryEngine()
    engine.online = False
    app = build_app(settings(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await sell(pilot, engine, "1250")
        sale = engine.rows[0]
        assert sale.result == "approved_offline"
        engine.decline_forwarded(sale.id)

        def warnings() -> list[str]:  # the error toasts shown so far
            return [n.message for n in app._notifications if n.severity == "error"]

        await until(pilot, lambda: any("declined 1 sale(s) approved" in w for w in warnings()))
        assert "not paid" in warnings()[0]
        await pilot.pause(1.5)  # the status bar refreshed meanwhile: the warning is not repeated
        assert len(warnings()) == 1
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        table = app.screen.query_one(DataTable)
        assert table.get_row_at(0)[-1] == "Declined later"
