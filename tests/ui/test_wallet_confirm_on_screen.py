"""A wallet pay code on the operator screen, against the real engine and gateway simulator:
the screen says the customer is confirming on the phone, and the operator's cancel meanwhile
leaves nothing charged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.camera import render_frame
from terminal.ecr.server import EcrServer
from terminal.qr.mpm import parse_merchant_code
from terminal.ui.screens.qr import QrScreen
from tests.conftest import free_port
from tests.ui.helpers import text_of, type_keys, until
from tests.ui.real_terminal import RealTerminal


@pytest.fixture
def terminal(gateway_sim_module: Any, tmp_path: Path) -> Iterator[RealTerminal]:
    term = RealTerminal(gateway_sim_module, tmp_path, qr={"wallet_confirm_timeout_s": 60})
    yield term
    term.close()


def show_pay_code(term: RealTerminal, scheme: str, confirm_after_s: float | None) -> None:
    code = term.sim.pay_code(scheme, confirm_after_s=confirm_after_s)["code"]
    term._write_frame(render_frame(code, size=(640, 480), module_px=4))


async def test_operator_cancels_while_the_customer_is_confirming(terminal: RealTerminal) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "4500")
        await pilot.press("s")
        await until(pilot, lambda: "camera" in text_of(pilot, "#stage"), timeout=15)
        await asyncio.to_thread(show_pay_code, terminal, "alipay", None)
        await until(
            pilot,
            lambda: (
                "Waiting for the customer to confirm on their phone" in text_of(pilot, "#stage")
            ),
            timeout=30,
        )
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.phase == "result", timeout=30)
        assert "Cancelled" in text_of(pilot, "#stage")
        assert "Nothing was charged." in text_of(pilot, "#detail")
        sale = terminal.engine.history(limit=1)[0]
        assert (sale.state, sale.scheme) == ("reversed", "alipay")  # cancelled with the wallet
        entries = terminal.sim.ledger(terminal.terminal_id)
        assert not [e for e in entries if e["result"] == "approved" and e["type"] == "authorize"]
        await app.shutdown()


async def test_the_operator_screen_shows_the_combined_national_code(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    gateway_sim_module.cards(
        name="promptpay-wallet-th",
        pan="4111111111111111",
        expiry="301231",
        balance="5000.00",
        currency="THB",
    )
    term = RealTerminal(
        gateway_sim_module,
        tmp_path,
        terminal={"currency": "THB", "country": "TH"},
        qr={"merchant_accounts": [{"scheme": "promptpay", "account": "0812345678"}]},
    )
    app = term.app()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await type_keys(pilot, "15000")
            await pilot.press("q")
            await until(
                pilot,
                lambda: isinstance(app.screen, QrScreen) and bool(app.screen.query("#qr-amount")),
                timeout=15,
            )
            shown = app.screen
            assert isinstance(shown, QrScreen)
            code = parse_merchant_code(shown.payload, strict=True)
            assert code.fields["29"] == {"00": "A000000677010111", "01": "0066812345678"}
            assert isinstance(code.fields["26"], dict)  # the terminal's own network template
            await asyncio.to_thread(
                gateway_sim_module.wallet_pay,
                payload=shown.payload,
                card="promptpay-wallet-th",
                scheme="promptpay",
            )
            await until(pilot, lambda: app.sale_screen.phase == "result", timeout=30)
            assert "Approved" in text_of(pilot, "#stage")
            await app.shutdown()
    finally:
        term.close()


async def test_the_till_cancels_while_the_customer_is_confirming(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    port = free_port()
    token = "till-token-0123456789"
    term = RealTerminal(
        gateway_sim_module,
        tmp_path,
        qr={"wallet_confirm_timeout_s": 60},
        ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": token},
    )
    app = term.app(ecr=EcrServer(term.settings, term.engine))
    try:
        async with (
            app.run_test(size=(80, 24)) as pilot,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
            ) as till,
        ):
            await pilot.pause()
            await until(pilot, lambda: app.ecr is not None and app.ecr._runner is not None)
            body = {"amount": {"value": 6600, "currency": "EUR"}, "method": "qr-scan"}
            created = (await till.post("/ecr/v1/payments", json=body)).json()
            await until(pilot, lambda: "camera" in text_of(pilot, "#stage"), timeout=15)
            await asyncio.to_thread(show_pay_code, term, "wechatpay", None)
            url = f"/ecr/v1/payments/{created['id']}"

            async def stage_is_confirming() -> bool:
                return bool((await till.get(url)).json().get("stage") == "confirming")

            for _ in range(150):
                if await stage_is_confirming():
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the till never saw the confirming stage")
            answer = await till.delete(url)
            assert answer.status_code == 202, answer.text
            done = (await till.get(f"{url}?wait=30", timeout=40)).json()
            assert done["result"] == "cancelled"
            assert "nothing was charged" in done["message"]
            sale = term.engine.transaction(done["transaction_id"])
            assert sale.state == "reversed"
            entries = term.sim.ledger(term.terminal_id)
            assert not [e for e in entries if e["result"] == "approved"]
            await app.shutdown()
    finally:
        term.close()
