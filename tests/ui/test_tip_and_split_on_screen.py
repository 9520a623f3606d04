"""Tip adjust from History and split tender on the operator screen, against the real engine,
the real gateway simulator and the real NFC stack with a simulated card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from terminal.ui.screens.history import HistoryScreen
from terminal.ui.screens.tip import TipScreen
from terminal.ui.screens.transaction import TransactionScreen
from tests.ui.helpers import text_of, type_keys, until
from tests.ui.real_terminal import RealTerminal
from tests.ui.test_payments_real_engine import tap_sale


@pytest.fixture
def terminal(gateway_sim_module: Any, tmp_path: Path) -> Iterator[RealTerminal]:
    term = RealTerminal(gateway_sim_module, tmp_path)
    yield term
    term.close()
    gateway_sim_module.faults()


async def test_tip_is_adjusted_from_history(terminal: RealTerminal) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await tap_sale(pilot, terminal, "4000")
        await pilot.press("enter", "h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TransactionScreen))
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TipScreen))
        await pilot.press("a")
        await type_keys(pilot, "15.00")  # above 25 % of 40.00
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TransactionScreen))
        await until(
            pilot, lambda: any("above the maximum" in str(n.message) for n in app._notifications)
        )
        sale = [e for e in terminal.sim.ledger(terminal.terminal_id) if e["type"] == "authorize"]
        assert [e["amount"]["value"] for e in sale] == [4000]
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TipScreen))
        await pilot.press("a")
        await type_keys(pilot, "6.00")
        await pilot.press("enter")
        await until(pilot, lambda: "EUR 46.00" in text_of(pilot, "#txn-text"), timeout=20)
        assert "EUR 6.00" in text_of(pilot, "#txn-text")
        sale = [e for e in terminal.sim.ledger(terminal.terminal_id) if e["type"] == "authorize"]
        assert [e["amount"]["value"] for e in sale] == [4600]
        await app.shutdown()


async def test_split_tender_on_the_screen_pays_the_rest_with_another_card(
    terminal: RealTerminal,
) -> None:
    terminal.sim.cards(name="prepaid", balance="30.00")  # the shared test card, refilled
    prepaid = "prepaid"
    app = terminal.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await tap_sale(pilot, terminal, "5000", profile=prepaid)
        assert "Paid EUR 30.00 of EUR 50.00" in text_of(pilot, "#detail")
        assert "EUR 20.00 is left to pay" in text_of(pilot, "#detail")
        screen = app.screen
        first = screen.split[0]  # type: ignore[attr-defined]
        await pilot.press("enter")  # the next tender: what is left, by card
        await until(pilot, lambda: "Present card" in text_of(pilot, "#stage"), timeout=15)
        import asyncio

        tapped = asyncio.ensure_future(terminal.tap("visa-credit"))
        await until(pilot, lambda: screen.phase == "result", timeout=30)  # type: ignore[attr-defined]
        assert await tapped == 1
        assert "Approved" in text_of(pilot, "#stage")
        assert screen.split is None  # type: ignore[attr-defined]
        summary = terminal.engine.tenders(first)
        assert summary is not None and summary["remaining"]["value"] == 0
        assert [t["amount"]["value"] for t in summary["tenders"]] == [3000, 2000]
        await app.shutdown()


async def test_split_sale_abandoned_on_the_screen_is_voided_as_a_whole(
    terminal: RealTerminal,
) -> None:
    terminal.sim.cards(name="prepaid", balance="30.00")  # the shared test card, refilled
    prepaid = "prepaid"
    app = terminal.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await tap_sale(pilot, terminal, "5000", profile=prepaid)
        first = app.screen.split[0]  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until(pilot, lambda: "voided" in text_of(pilot, "#stage"), timeout=20)
        assert terminal.engine.journal.get(first).state.value == "voided"
        live = [e for e in terminal.sim.ledger(terminal.terminal_id) if e["state"] == "active"]
        assert [e for e in live if e["type"] == "authorize"] == []
        await app.shutdown()
