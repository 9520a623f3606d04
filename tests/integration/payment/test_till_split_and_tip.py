"""The till (ECR API over real HTTP) with the real engine and the gateway simulator: one sale
paid by two cards, tip adjust, and the refusals a till gets as 400 with a sentence."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from payment_terminal import Terminal

from simulators.bank.local import new_card
from simulators.card.tap import TappedCard
from terminal.ecr.server import EcrServer
from terminal.payment.engine import Engine
from tests.conftest import free_port

TOKEN = "till-token-0123456789"


def eur(value: int) -> dict[str, Any]:
    return {"value": value, "currency": "EUR"}


class Till:
    def __init__(self, term: Terminal, engine: Engine, http: httpx.AsyncClient) -> None:
        self.term, self.engine, self.http = term, engine, http

    async def pay(self, card: str, value: int, **extra: Any) -> dict[str, Any]:
        self.engine.card_capture = TappedCard(card)
        body = {"amount": eur(value), "method": "nfc", **extra}
        created = await self.http.post("/ecr/v1/payments", json=body)
        assert created.status_code == 202, created.text
        done = await self.http.get(f"/ecr/v1/payments/{created.json()['id']}?wait=20")
        result: dict[str, Any] = done.json()
        assert result["state"] == "completed", result
        return result


@pytest.fixture
async def till(terminal: Callable[..., Terminal]) -> AsyncIterator[Till]:
    port = free_port()
    term = terminal(ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN})
    engine = term.engine(TappedCard("visa-credit"))
    await engine.start()
    await engine.link_checked()
    server = EcrServer(term.settings, engine)
    await server.start()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    ) as http:
        yield Till(term, engine, http)
    await server.stop()
    await engine.stop()


async def test_till_sees_one_sale_with_two_tenders_and_the_batch_balances(till: Till) -> None:
    prepaid = new_card(till.term.sim, "30.00", like="prepaid")
    first = await till.pay(prepaid, 5000, allow_partial=True, reference="TABLE-7")
    assert first["result"] == "approved", first
    assert first["approved_amount"] == eur(3000)
    assert first["remaining_amount"] == eur(2000)
    assert first["requested_amount"] == eur(5000)
    too_much = await till.http.post(
        "/ecr/v1/payments",
        json={"amount": eur(2500), "method": "nfc", "split_of": first["id"]},
    )
    assert too_much.status_code == 400
    assert "Only EUR 20.00 is left" in too_much.json()["message"]
    second = await till.pay("visa-credit", 2000, split_of=first["id"])
    assert second["result"] == "approved", second
    assert second["remaining_amount"] == eur(0)

    sale = (await till.http.get(f"/ecr/v1/payments/{first['id']}")).json()
    assert sale["paid_amount"] == eur(5000) and sale["remaining_amount"] == eur(0)
    assert [(t["method"], t["amount"]) for t in sale["tenders"]] == [
        ("nfc", eur(3000)),
        ("nfc", eur(2000)),
    ]
    assert [t["transaction_id"] for t in sale["tenders"]] == [
        first["transaction_id"],
        second["transaction_id"],
    ]
    ledger = {e["id"]: e for e in till.term.ledger() if e["state"] == "active"}
    assert ledger[first["transaction_id"]]["amount"] == eur(3000)
    assert ledger[second["transaction_id"]]["amount"] == eur(2000)
    closed = await till.engine.close_batch()
    assert closed.result == "balanced", closed.message
    assert closed.gateway_totals["sale"]["EUR"] == {"count": 2, "total": eur(5000)}


async def test_till_adjusts_a_tip_and_gets_400_for_bad_ones(till: Till) -> None:
    sale = await till.pay("visa-credit", 4000)
    url = f"/ecr/v1/payments/{sale['id']}/tip"
    adjusted = await till.http.post(url, json={"amount": eur(600)})
    assert adjusted.status_code == 200, adjusted.text
    assert adjusted.json()["result"] == "approved"
    assert adjusted.json()["amount"] == eur(4600)
    ledger = [e for e in till.term.ledger() if e["id"] == sale["transaction_id"]]
    assert ledger[0]["amount"] == eur(4600)
    entries = len(till.term.ledger())
    for body, words in (
        ({"amount": eur(-100)}, "cannot be negative"),
        ({"amount": eur(1001)}, "above the maximum of 25 %"),
        ({"amount": {"value": 100, "currency": "USD"}}, "takes EUR"),
    ):
        answer = await till.http.post(url, json=body)
        assert answer.status_code == 400, answer.text
        assert words in answer.json()["message"]
    unknown = await till.http.post(
        "/ecr/v1/payments/11111111-1111-4111-8111-111111111111/tip", json={"amount": eur(100)}
    )
    assert unknown.status_code == 400
    assert "No transaction" in unknown.json()["message"]
    assert len(till.term.ledger()) == entries
    closed = await till.engine.close_batch()
    assert closed.result == "balanced"
    after = await till.http.post(url, json={"amount": eur(700)})
    assert after.status_code == 400
    assert "is closed" in after.json()["message"]
    assert len(till.term.ledger()) == entries


async def test_till_voids_an_abandoned_split_sale_as_a_whole(till: Till) -> None:
    from terminal.security.audit import AuditLog

    prepaid = new_card(till.term.sim, "30.00", like="prepaid")
    first = await till.pay(prepaid, 5000, allow_partial=True)
    cash = await till.http.post(f"/ecr/v1/payments/{first['id']}/cash", json={"amount": eur(500)})
    assert cash.status_code == 200, cash.text
    assert cash.json()["remaining_amount"] == eur(1500)
    voided = await till.http.post(f"/ecr/v1/payments/{first['id']}/void")
    assert voided.status_code == 200, voided.text
    body = voided.json()
    assert body["result"] == "approved", body
    assert [t["state"] for t in body["tenders"]] == ["voided", "voided"]
    assert [v["result"] for v in body["voids"]] == ["approved", "approved"]
    live = [e for e in till.term.ledger() if e["state"] == "active" and e["type"] == "authorize"]
    assert live == []
    assert till.term.sim.card(prepaid)["balance"]["value"] == 3000
    records = AuditLog(till.term.settings.data_dir).records()
    voids = [r for r in records if r.action == "payment.void"]
    assert [v.details["door"] for v in voids] == ["ecr", "ecr"]
