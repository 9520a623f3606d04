"""A payment the till starts through the ECR API shows on the operator screen."""

from __future__ import annotations

import httpx

from terminal.ecr.server import EcrServer
from terminal.settings import Settings
from terminal.ui.app import build_app
from tests.conftest import free_port
from tests.ui.helpers import text_of, type_keys, until
from tests.ui.memory_engine import MemoryEngine

TOKEN = "till-token-0123456789"


async def test_till_payment_is_shown_and_the_operator_can_cancel_it() -> None:
    port = free_port()
    settings = Settings.model_validate(
        {"ecr": {"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN}}
    )
    engine = MemoryEngine()
    app = build_app(settings, engine, ecr=EcrServer(settings, engine))
    async with (
        app.run_test(size=(80, 24)) as pilot,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as till,
    ):
        await pilot.pause()
        await until(pilot, lambda: app.ecr is not None and app.ecr._runner is not None)
        created = await till.post(
            "/ecr/v1/payments", json={"amount": {"value": 4250, "currency": "EUR"}, "method": "nfc"}
        )
        assert created.status_code == 202
        await until(pilot, lambda: "from the till" in text_of(pilot, "#tip-line"))
        assert "42.50" in str(app.screen.query_one("#amount").value)  # type: ignore[attr-defined]
        await until(pilot, lambda: "Present card" in text_of(pilot, "#stage"))

        # While the till's payment runs, the operator cannot start another one.
        busy = await till.post(
            "/ecr/v1/payments", json={"amount": {"value": 100, "currency": "EUR"}, "method": "nfc"}
        )
        assert busy.status_code == 409

        await pilot.press("escape")
        await until(pilot, lambda: "Cancelled" in text_of(pilot, "#stage"))
        answer = (await till.get(f"/ecr/v1/payments/{created.json()['id']}?wait=5")).json()
        assert answer["result"] == "cancelled"

        # The operator's own sale keeps the till out.
        await pilot.press("enter")
        await type_keys(pilot, "100")
        await pilot.press("enter")
        await until(pilot, lambda: "Present card" in text_of(pilot, "#stage"))
        refused = await till.post(
            "/ecr/v1/payments", json={"amount": {"value": 100, "currency": "EUR"}, "method": "nfc"}
        )
        assert refused.status_code == 409 and "operator" in refused.json()["message"]
        engine.tap()
        await until(pilot, lambda: "Approved" in text_of(pilot, "#stage"))
        await app.action_quit()


async def test_till_asks_for_the_merchant_code_and_the_screen_shows_it() -> None:
    from terminal.ui.screens.qr import QrScreen

    port = free_port()
    settings = Settings.model_validate(
        {"ecr": {"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN}}
    )
    engine = MemoryEngine()
    app = build_app(settings, engine, ecr=EcrServer(settings, engine))
    async with (
        app.run_test(size=(80, 24)) as pilot,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as till,
    ):
        await pilot.pause()
        await until(pilot, lambda: app.ecr is not None and app.ecr._runner is not None)
        created = await till.post(
            "/ecr/v1/payments",
            json={"amount": {"value": 990, "currency": "EUR"}, "method": "qr-show"},
        )
        await until(
            pilot, lambda: isinstance(app.screen, QrScreen) and bool(app.screen.query("#qr-amount"))
        )
        assert "EUR 9.90" in str(app.screen.query_one("#qr-amount").render())
        engine.pay_code()
        answer = (await till.get(f"/ecr/v1/payments/{created.json()['id']}?wait=5")).json()
        assert answer["result"] == "approved" and answer["entry"] == "qr_mpm"
        await until(pilot, lambda: not isinstance(app.screen, QrScreen))
        assert "Approved" in text_of(pilot, "#stage")
        await app.action_quit()
