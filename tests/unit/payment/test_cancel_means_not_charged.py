"""A cancel the terminal accepts means the customer is not charged; otherwise it is refused
at once (the assessor's 15-cancel race: 14 × "202 cancelling" that all ended charged)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scripted_bank import ScriptedBank, answer
from test_payment_engine import FINGERPRINT, PlainCard, eur, settings_for

from terminal.ecr.server import EcrServer
from terminal.emv.card_data import CardData
from terminal.money import Amount
from terminal.payment.api import CancelToken, Progress, Result, SaleRequest, Stage
from terminal.payment.bank import Delivery
from terminal.payment.engine import Engine
from terminal.payment.journal import Journal
from terminal.payment.states import State
from tests.conftest import free_port

TOKEN = "till-token-0123456789"


class SlowBank(ScriptedBank):
    """Approves every authorise after a pause, and keeps the ledger of what it charged."""

    def __init__(self, pause_s: float) -> None:
        super().__init__()
        self.pause_s = pause_s
        self.charged: set[str] = set()

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        await asyncio.sleep(self.pause_s)
        self.script = [answer("approved", "00", "A1B2C3")]
        delivery = await super().deliver(message_id, stored, deadline_s=deadline_s)
        self.charged.add(message_id)
        return delivery


class SlowCard(PlainCard):
    def __init__(self, pause_s: float) -> None:
        super().__init__()
        self.pause_s = pause_s

    async def read_card(self, amount: Amount, cancel: asyncio.Event, progress: Any) -> CardData:
        await asyncio.sleep(self.pause_s)
        return await super().read_card(amount, cancel, progress)


async def _engine(tmp_path: Path, bank: ScriptedBank, card: PlainCard) -> Engine:
    settings = settings_for(tmp_path)
    journal = Journal.open(settings.data_dir)
    engine = Engine(settings, journal, bank, fingerprint=FINGERPRINT, card_capture=card)
    await engine.start(forward=False)
    return engine


async def test_cancel_right_after_the_card_is_read_is_honoured_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    bank = SlowBank(0.0)
    engine = await _engine(tmp_path, bank, PlainCard())
    token = CancelToken()
    answers = []

    def progress(step: Progress) -> None:
        if step.stage is Stage.CARD_READ:  # the window the assessor hit
            answers.append(token.request())

    try:
        outcome = await engine.sale(SaleRequest(eur("10.00")), progress, token)
        assert answers[0].accepted
        assert outcome.result is Result.CANCELLED
        assert "nothing was charged" in outcome.message
        assert bank.sent == [] and bank.charged == set()
        assert engine.journal.get(outcome.id).state is State.CANCELLED
        assert engine.journal.get(outcome.id).request is None
    finally:
        await engine.stop()


async def test_cancel_once_the_bank_is_asked_is_refused_with_the_state(tmp_path: Path) -> None:
    bank = SlowBank(0.0)
    engine = await _engine(tmp_path, bank, PlainCard())
    token = CancelToken()
    answers = []

    def progress(step: Progress) -> None:
        if step.stage is Stage.AUTHORISING:
            answers.append(token.request())

    try:
        outcome = await engine.sale(SaleRequest(eur("10.00")), progress, token)
        assert not answers[0].accepted and answers[0].state == "authorising"
        assert "cannot be cancelled" in answers[0].sentence
        assert outcome.result is Result.APPROVED and bank.charged == {outcome.id}
    finally:
        await engine.stop()


async def test_a_plain_event_set_before_sending_still_stops_the_send(tmp_path: Path) -> None:
    bank = SlowBank(0.0)
    engine = await _engine(tmp_path, bank, PlainCard())
    cancel = asyncio.Event()

    def progress(step: Progress) -> None:
        if step.stage is Stage.CARD_READ:
            cancel.set()

    try:
        outcome = await engine.sale(SaleRequest(eur("10.00")), progress, cancel)
        assert outcome.result is Result.CANCELLED and bank.sent == []
    finally:
        await engine.stop()


@pytest.fixture
async def till(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, SlowBank, Engine]]:
    bank = SlowBank(0.3)
    engine = await _engine(tmp_path, bank, SlowCard(0.06))
    port = free_port()
    settings = settings_for(
        tmp_path, ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN}
    )
    server = EcrServer(settings, engine)
    await server.start()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ) as http:
        yield http, bank, engine
    await server.stop()
    await engine.stop()


async def test_fifteen_cancels_over_http_each_202_ends_not_charged_each_409_at_once(
    till: tuple[httpx.AsyncClient, SlowBank, Engine],
) -> None:
    http, bank, engine = till
    accepted = refused = 0
    for n in range(15):
        created = (
            await http.post(
                "/ecr/v1/payments",
                json={"amount": {"value": 1000 + n, "currency": "EUR"}, "method": "nfc"},
            )
        ).json()
        # Cancel at 15 points spread over card read, the read-to-send gap and authorising.
        await asyncio.sleep(0.01 * n)
        cancel = await http.delete(f"/ecr/v1/payments/{created['id']}")
        done = (await http.get(f"/ecr/v1/payments/{created['id']}?wait=10")).json()
        assert done["state"] == "completed"
        if cancel.status_code == 202:
            accepted += 1
            assert done["result"] == "cancelled", (n, done)
            assert done["transaction_id"] not in bank.charged
        else:
            refused += 1
            assert cancel.status_code == 409, cancel.text
            body = cancel.json()
            if body["error"] != "already_completed":  # a slow machine may get here late
                assert body["error"] == "not_cancellable"
                assert "authorising with the bank and cannot be cancelled" in body["message"]
            assert done["result"] == "approved"
    assert accepted and refused  # both sides of the point of no return were reached
    cancelled = engine.journal.find("state = 'cancelled'")
    assert len(cancelled) == accepted
    assert all(txn.id not in bank.charged for txn in cancelled)
    assert len(bank.charged) == refused
