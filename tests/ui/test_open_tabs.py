"""The operator screen's Open tabs (O): holds taken by a tap, captured with a tip or released,
against the real engine, the real gateway simulator and the real NFC stack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from simulators.printer import FakePrinter
from terminal.money import Amount
from terminal.payment.api import Result, SaleRequest
from terminal.ui.screens.open_tabs import CaptureScreen, OpenTabsScreen
from tests.ui.helpers import screen_text, type_keys, until
from tests.ui.real_terminal import RealTerminal
from tests.unit.receipts.escpos_decode import decode


@pytest.fixture
def printer() -> Iterator[FakePrinter]:
    with FakePrinter() as device:
        yield device


@pytest.fixture
def terminal(
    gateway_sim_module: Any, tmp_path: Path, printer: FakePrinter
) -> Iterator[RealTerminal]:
    term = RealTerminal(gateway_sim_module, tmp_path, devices={"printer": printer.url})
    yield term
    term.close()


def held_cells(tabs: Any) -> list[str]:
    """The "Held" column as the operator reads it."""
    table = tabs.query_one(DataTable)
    return [str(table.get_row_at(n)[1]) for n in range(table.row_count)]


async def hold(term: RealTerminal, engine: Any, amount: str) -> str:
    request = SaleRequest(Amount.parse(amount, "EUR"))
    held = asyncio.ensure_future(engine.preauth(request, lambda step: None, asyncio.Event()))
    assert await term.tap("wallet-token") == 1
    outcome = await held
    assert outcome.result is Result.APPROVED, outcome.message
    return str(outcome.id)


async def test_open_tabs_capture_with_tip_then_release(
    terminal: RealTerminal, printer: FakePrinter
) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        engine = app.engine
        bar = await hold(terminal, engine, "100.00")
        room = await hold(terminal, engine, "30.00")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(pilot.app.screen, OpenTabsScreen))
        tabs = pilot.app.screen
        assert set(tabs.rows) == {bar, room}
        assert sorted(held_cells(tabs)) == ["EUR 100.00", "EUR 30.00"]
        while tabs.chosen() is None or tabs.chosen().id != bar:  # type: ignore[union-attr]
            await pilot.press("down")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, CaptureScreen))
        await type_keys(pilot, "8.00")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, OpenTabsScreen), timeout=15)
        await until(pilot, lambda: set(tabs.rows) == {room})
        assert engine.transaction(bar).state == "captured"
        assert engine.transaction(bar).captured == Amount.parse("108.00", "EUR")
        await until(pilot, lambda: decode(printer.received).cuts >= 2, timeout=10)
        slip = decode(printer.received).text.splitlines()
        assert "CAPTURE" in slip
        assert any(line.startswith("Tip") and line.endswith("EUR 8.00") for line in slip)
        assert any(line.startswith("TOTAL") and line.endswith("EUR 108.00") for line in slip)
        await pilot.press("x")
        assert "Y to release" in screen_text(pilot)
        await pilot.press("y")
        await until(pilot, lambda: not tabs.rows, timeout=15)
        assert held_cells(tabs) == ["No open tabs."]
        assert engine.transaction(room).state == "released"
    charges = [e for e in terminal.sim.ledger(terminal.terminal_id) if e["type"] == "capture"]
    assert [(e["ref"], e["amount"]["value"]) for e in charges] == [(bar, 10800)]
