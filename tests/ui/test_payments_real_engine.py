"""Every payment the operator screen offers, driven by keys, against the real engine, the real
gateway simulator (its own process) and the real NFC stack with a simulated card."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.printer import FakePrinter
from terminal.ecr.server import EcrServer
from terminal.ui.screens.end_of_day import EndOfDayScreen
from terminal.ui.screens.history import HistoryScreen
from terminal.ui.screens.qr import QrScreen
from terminal.ui.screens.supervisor import SupervisorScreen
from terminal.ui.screens.tip import TipScreen
from terminal.ui.screens.transaction import TransactionScreen
from tests.conftest import free_port
from tests.ui.helpers import text_of, type_keys, until
from tests.ui.real_terminal import SUPERVISOR_PIN, RealTerminal
from tests.unit.receipts.escpos_decode import decode


@pytest.fixture
def terminal(gateway_sim_module: Any, tmp_path: Path) -> Iterator[RealTerminal]:
    term = RealTerminal(gateway_sim_module, tmp_path)
    yield term
    term.close()
    gateway_sim_module.faults()


def stage(pilot: Any) -> str:
    return text_of(pilot, "#stage")


async def tap_sale(
    pilot: Any,
    term: RealTerminal,
    keys: str,
    profile: str = "visa-credit",
) -> None:
    await type_keys(pilot, keys)
    await pilot.press("enter")
    await until(pilot, lambda: "Present card" in stage(pilot), timeout=15)
    tapped = asyncio.ensure_future(term.tap(profile))
    await until(pilot, lambda: pilot.app.screen.phase == "result", timeout=30)
    assert await tapped == 1


async def test_full_sale_is_approved_with_auth_code_and_in_the_ledger(
    terminal: RealTerminal,
) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await tap_sale(pilot, terminal, "1234")
        assert "Approved" in stage(pilot)
        detail = text_of(pilot, "#detail")
        assert "Auth code" in detail and "EUR 12.34" in detail
        assert "4761" in detail and "******" in detail  # masked PAN only
        ledger = terminal.sim.ledger(terminal.terminal_id)
        assert [e["amount"]["value"] for e in ledger if e.get("result") == "approved"] == [1234]
        await until(pilot, lambda: "Bank: online" in text_of(pilot, "#status"), timeout=5)
        await app.shutdown()


async def test_merchant_code_is_paid_by_the_customers_wallet(terminal: RealTerminal) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "1890")
        await pilot.press("q")
        await until(
            pilot,
            lambda: isinstance(app.screen, QrScreen) and bool(app.screen.query("#qr-amount")),
            timeout=15,
        )
        qr = app.screen
        assert isinstance(qr, QrScreen)
        assert "EUR 18.90" in str(qr.query_one("#qr-amount").render())
        await until(pilot, lambda: "Expires in" in str(qr.query_one("#qr-countdown").render()))
        assert "5405" + "18.90" in qr.payload  # EMVCo tag 54: the amount, as a decimal string
        await asyncio.to_thread(terminal.wallet_pays, qr.payload)
        await until(pilot, lambda: app.sale_screen.phase == "result", timeout=30)
        await until(pilot, lambda: not isinstance(app.screen, QrScreen))
        assert "Approved" in stage(pilot)
        await app.shutdown()


async def test_customer_code_is_scanned_and_approved(terminal: RealTerminal) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "720")
        await pilot.press("s")
        await until(pilot, lambda: "camera" in stage(pilot), timeout=15)
        await asyncio.to_thread(terminal.show_wallet_code)
        await until(pilot, lambda: app.screen.phase == "result", timeout=30)
        assert "Approved" in stage(pilot)
        assert "EUR 7.20" in text_of(pilot, "#detail")
        await app.shutdown()


async def test_decline_shows_the_banks_reason(gateway_sim_module: Any, tmp_path: Path) -> None:
    # A debit card with 80.00 on it, and a CVM limit above the sale so the bank decides.
    terminal = RealTerminal(gateway_sim_module, tmp_path, nfc={"cvm_limit": "200.00"})
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await tap_sale(pilot, terminal, "10000", profile="mastercard-debit")  # balance 80.00
        assert "Declined" in stage(pilot)
        assert "Insufficient funds. (51)" in text_of(pilot, "#detail")
        await app.shutdown()
    terminal.close()


async def test_offline_approval_when_the_bank_is_down(terminal: RealTerminal) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        terminal.sim.faults(down=True)
        await tap_sale(pilot, terminal, "1500")
        seen = f"{stage(pilot)} / {text_of(pilot, '#detail')}"
        assert "Approved offline" in stage(pilot), seen
        assert "sent when the link is back" in text_of(pilot, "#detail"), seen
        await until(pilot, lambda: "Queue: 1" in text_of(pilot, "#status"), timeout=10)
        assert "EUR 15.00" in text_of(pilot, "#status")
        await app.shutdown()


async def test_cancel_while_waiting_for_the_card(terminal: RealTerminal) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "2000")
        await pilot.press("enter")
        await until(pilot, lambda: "Present card" in stage(pilot), timeout=15)
        await pilot.press("escape")
        await until(pilot, lambda: "Cancelled" in stage(pilot), timeout=15)
        assert "Nothing was charged." in text_of(pilot, "#detail")
        assert terminal.sim.ledger(terminal.terminal_id) == []
        await app.shutdown()


async def test_refund_needs_the_right_supervisor_pin(terminal: RealTerminal) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await tap_sale(pilot, terminal, "3000")
        await pilot.press("enter", "h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TransactionScreen))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, SupervisorScreen))
        await type_keys(pilot, "1357")
        await pilot.press("enter")
        await until(pilot, lambda: "Wrong supervisor PIN" in text_of(pilot, "#pin-result"))
        types = [e.get("type") for e in terminal.sim.ledger(terminal.terminal_id)]
        assert "refund" not in types
        await type_keys(pilot, SUPERVISOR_PIN)
        await pilot.press("enter")
        await until(pilot, lambda: "Refund approved" in text_of(pilot, "#pin-result"), timeout=20)
        types = [e.get("type") for e in terminal.sim.ledger(terminal.terminal_id)]
        assert types.count("refund") == 1
        await app.shutdown()


async def test_close_batch_is_balanced(terminal: RealTerminal) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await tap_sale(pilot, terminal, "1100")
        await pilot.press("enter", "e")
        await until(pilot, lambda: isinstance(app.screen, EndOfDayScreen))
        await pilot.press("b", "y")
        await until(pilot, lambda: "Batch closed" in text_of(pilot, "#batch"), timeout=20)
        assert "balanced with the bank" in text_of(pilot, "#batch")
        await app.shutdown()


async def test_till_payment_shows_on_the_screen(gateway_sim_module: Any, tmp_path: Path) -> None:
    port = free_port()
    token = "till-token-0123456789"
    terminal = RealTerminal(
        gateway_sim_module,
        tmp_path,
        ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": token},
    )
    app = terminal.app(ecr=EcrServer(terminal.settings, terminal.engine))
    async with (
        app.run_test(size=(80, 24)) as pilot,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        ) as till,
    ):
        await pilot.pause()
        await until(pilot, lambda: app.ecr is not None and app.ecr._runner is not None)
        created = await till.post(
            "/ecr/v1/payments",
            json={"amount": {"value": 3333, "currency": "EUR"}, "method": "nfc", "reference": "T1"},
        )
        assert created.status_code == 202
        await until(pilot, lambda: "from the till" in text_of(pilot, "#tip-line"), timeout=10)
        await until(pilot, lambda: "Present card" in stage(pilot), timeout=15)
        assert await terminal.tap() == 1
        answer = await till.get(f"/ecr/v1/payments/{created.json()['id']}?wait=30", timeout=40)
        body = answer.json()
        assert body["result"] == "approved" and body["state"] == "completed"
        await until(pilot, lambda: "Approved" in stage(pilot), timeout=10)
        assert body["auth_code"] in text_of(pilot, "#detail")
        view = terminal.engine.transaction(body["transaction_id"])
        assert view.reference == "T1" and view.amount.minor == 3333
        await app.shutdown()
    terminal.close()


async def test_receipt_with_tip_prints_masked_pan_only(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    with FakePrinter() as printer:
        terminal = RealTerminal(
            gateway_sim_module,
            tmp_path,
            devices={"printer": printer.url},
            ui={"tip_presets": [10]},
        )
        app = terminal.app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await type_keys(pilot, "2000")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, TipScreen))
            await pilot.press("1")  # 10 %
            await until(pilot, lambda: "Present card" in stage(pilot), timeout=15)
            assert await terminal.tap() == 1
            await until(pilot, lambda: app.sale_screen.phase == "result", timeout=30)
            assert "Approved" in stage(pilot)
            await until(pilot, lambda: decode(printer.received).cuts >= 2, timeout=15)
            paper = decode(printer.received).text
            merchant, customer = paper.split("MERCHANT COPY")
            for copy in (merchant, customer):
                assert "Tip" in copy and "EUR 2.00" in copy and "EUR 22.00" in copy
                assert "Auth code" in copy and "VISA" in copy and "A0000000031010" in copy
            assert "476173******0010" in merchant
            assert "************0010" in customer
            assert "4761739001010010" not in paper
            await app.shutdown()
        terminal.close()
