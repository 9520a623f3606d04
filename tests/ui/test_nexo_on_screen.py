"""A payment a POS starts over the nexo Terminal API shows on the operator screen like one from
the ECR API: amount, "(from the till)" with the till's reference, the live status; a nexo
Login names the operator in the status bar."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from terminal.ecr.payments import EcrPayments
from terminal.nexo.door import NexoDoor
from terminal.nexo.server import NexoServer
from terminal.nexo.store import ServiceStore
from terminal.settings import Settings
from terminal.ui.app import build_app
from tests.conftest import free_port
from tests.ui.helpers import text_of, until
from tests.ui.memory_engine import MemoryEngine


def request(category: str, service_id: str, body: dict[str, object]) -> dict[str, object]:
    return {
        "SaleToPOIRequest": {
            "MessageHeader": {
                "ProtocolVersion": "3.0",
                "MessageClass": "Service",
                "MessageCategory": category,
                "MessageType": "Request",
                "ServiceID": service_id,
                "SaleID": "TILL-1",
                "POIID": "posterm-POSTERM1",
            },
            f"{category}Request": body,
        }
    }


async def test_nexo_payment_is_shown_like_a_till_payment(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings.model_validate(
        {
            "terminal": {"data_dir": str(tmp_path / "data")},
            "nexo": {"enabled": True, "listen": f"127.0.0.1:{port}", "allow_plain_http": True},
        }
    )
    engine = MemoryEngine()
    payments = EcrPayments(engine)
    door = NexoDoor(settings, engine, payments, ServiceStore(tmp_path / "nexo.sqlite"))
    app = build_app(settings, engine, nexo=NexoServer(settings, door))
    async with (
        app.run_test(size=(80, 24)) as pilot,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as pos,
    ):
        await pilot.pause()
        await until(pilot, lambda: app.nexo is not None and app.nexo._runner is not None)
        login = await pos.post("/nexo/", json=request("Login", "L1", {"OperatorID": "anna"}))
        assert login.status_code == 200, login.text
        assert (
            login.json()["SaleToPOIResponse"]["LoginResponse"]["Response"]["Result"] == "Success"
        ), login.text
        await until(pilot, lambda: app.status_note == "Operator anna")
        sale = request(
            "Payment",
            "P1",
            {
                "SaleData": {
                    "SaleTransactionID": {
                        "TransactionID": "ORD-77",
                        "TimeStamp": "2026-12-07T10:00:00Z",
                    }
                },
                "PaymentTransaction": {"AmountsReq": {"Currency": "EUR", "RequestedAmount": 42.5}},
            },
        )
        answer = pilot.app.run_worker(pos.post("/nexo/", content=json.dumps(sale)))
        await until(pilot, lambda: "from the till" in text_of(pilot, "#tip-line"))
        assert "ORD-77" in text_of(pilot, "#tip-line")
        assert "42.50" in str(app.screen.query_one("#amount").value)  # type: ignore[attr-defined]
        await until(pilot, lambda: "Present card" in text_of(pilot, "#stage"))
        engine.tap()
        await until(pilot, lambda: "Approved" in text_of(pilot, "#stage"))
        done = await answer.wait()
        body = done.json()["SaleToPOIResponse"]["PaymentResponse"]
        assert body["Response"]["Result"] == "Success"
        await app.action_quit()
