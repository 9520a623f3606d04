"""Refunds and voids of one sale are serialised: the check and the new row are one commit, so
of N concurrent voids (one engine, or engines in separate threads with their own connections,
as processes have) exactly one is sent; the others are refused before anything is sent, no row
is left in authorising and nothing is reversed at the next start (the assessor's finding 11)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from scripted_bank import ScriptedBank, answer
from test_payment_engine import FINGERPRINT, PlainCard, eur, settings_for

from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.bank import Delivery
from terminal.payment.engine import Engine
from terminal.payment.errors import VoidNotAllowed
from terminal.payment.journal import Journal
from terminal.payment.states import State
from terminal.settings import Settings

IN_PROGRESS = "of sale {sale} is already in progress"


class SlowBank(ScriptedBank):
    """Answers every message (approved) after a pause, so voids overlap."""

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        await asyncio.sleep(0.2)
        self.script = [answer("approved", "00", "A1")]
        return await super().deliver(message_id, stored, deadline_s=deadline_s)


def _engine(settings: Settings, bank: ScriptedBank) -> Engine:
    return Engine(
        settings,
        Journal.open(settings.data_dir),
        bank,
        fingerprint=FINGERPRINT,
        card_capture=PlainCard(),
    )


async def _void(engine: Engine, sale_id: str) -> Outcome | VoidNotAllowed:
    try:
        return await engine.void(sale_id, lambda step: None)
    except VoidNotAllowed as refusal:  # refused by the check before the row: same sentence
        return refusal


def _sentence(ending: Outcome | VoidNotAllowed) -> str:
    return ending.sentence if isinstance(ending, VoidNotAllowed) else ending.message


async def _sale(settings: Settings) -> str:
    engine = _engine(settings, ScriptedBank(answer("approved", "00", "A1")))
    await engine.start(forward=False)
    try:
        outcome = await engine.sale(SaleRequest(eur("30.00")), lambda s: None, asyncio.Event())
        assert outcome.result is Result.APPROVED
        return outcome.id
    finally:
        await engine.stop()


async def _after_restart(settings: Settings, sale_id: str) -> None:
    engine = _engine(settings, ScriptedBank())
    moved = await engine.recover()
    try:
        assert moved == []  # nothing left in flight, no reversal to queue
        assert engine.journal.pending_count(include_parked=True) == 0
        assert engine.journal.get(sale_id).state is State.VOIDED
        voids = engine.journal.find("type = 'void'")
        assert [v.state for v in voids] == [State.APPROVED]
    finally:
        await engine.stop()


async def test_eight_concurrent_voids_on_one_engine_send_one(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    sale_id = await _sale(settings)
    bank = SlowBank()
    engine = _engine(settings, bank)
    await engine.start(forward=False)
    try:
        endings = await asyncio.gather(*(_void(engine, sale_id) for _ in range(8)))
    finally:
        await engine.stop()
    approved = [e for e in endings if isinstance(e, Outcome) and e.result is Result.APPROVED]
    refused = [e for e in endings if e not in approved]
    assert len(approved) == 1 and len(refused) == 7
    for ending in refused:
        assert f"A void {IN_PROGRESS.format(sale=sale_id)}" in _sentence(ending)
        assert "Nothing was sent" in _sentence(ending)
    assert [m["type"] for m in bank.sent] == ["void"]
    await _after_restart(settings, sale_id)


def test_voids_from_two_processes_send_one(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    sale_id = asyncio.run(_sale(settings))
    banks = [SlowBank(), SlowBank()]
    endings: list[Outcome | VoidNotAllowed] = []
    start = threading.Barrier(2)

    def door(bank: ScriptedBank) -> None:
        async def main() -> list[Outcome | VoidNotAllowed]:
            engine = _engine(settings, bank)
            await engine.start(forward=False)
            try:
                start.wait()
                return list(await asyncio.gather(*(_void(engine, sale_id) for _ in range(4))))
            finally:
                await engine.stop()

        endings.extend(asyncio.run(main()))

    threads = [threading.Thread(target=door, args=(bank,)) for bank in banks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(endings) == 8
    approved = [e for e in endings if isinstance(e, Outcome) and e.result is Result.APPROVED]
    assert len(approved) == 1, [_sentence(e) for e in endings]
    for ending in endings:
        if ending not in approved:
            assert IN_PROGRESS.format(sale=sale_id) in _sentence(ending) or (
                "is voided: it cannot be voided" in _sentence(ending)
            )
    assert sum(len(bank.sent) for bank in banks) == 1
    asyncio.run(_after_restart(settings, sale_id))
