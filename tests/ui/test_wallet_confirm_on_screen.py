"""A wallet pay code on the operator screen, against the real engine and gateway simulator:
the screen says the customer is confirming on the phone, and the operator's cancel meanwhile
leaves nothing charged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.camera import render_frame
from terminal.qr.mpm import parse_merchant_code
from terminal.ui.screens.qr import QrScreen
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
