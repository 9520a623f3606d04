"""Card data in the journal: wiped at the final answer, kept while it may be sent, and wiped
once at start-up from a journal an older posterm wrote."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from scripted_bank import ScriptedBank, answer
from test_payment_engine import FINGERPRINT, PlainCard, eur, settings_for

from terminal.payment.api import Result, SaleRequest
from terminal.payment.bank import NoAnswer, NotSent
from terminal.payment.engine import Engine
from terminal.payment.journal import Journal


async def _sale(engine: Engine) -> str:
    outcome = await engine.sale(SaleRequest(eur("10.00")), lambda step: None, asyncio.Event())
    return outcome.id


def _stored(engine: Engine, txn_id: str) -> dict[str, object]:
    request = engine.journal.get(txn_id).request
    assert request is not None
    payload: dict[str, object] = json.loads(request)
    return payload


async def test_each_final_answer_wipes_the_card_and_an_unanswered_one_too(tmp_path: Path) -> None:
    bank = ScriptedBank(
        answer("approved", "00", "A1"),
        answer("declined", "51"),
        NoAnswer("timeout"),
        answer("reversed"),
    )
    settings = settings_for(tmp_path)
    engine = Engine(
        settings,
        Journal.open(settings.data_dir),
        bank,
        fingerprint=FINGERPRINT,
        card_capture=PlainCard(),
    )
    await engine.start(forward=False)
    try:
        ids = [await _sale(engine) for _ in range(3)]
        for txn_id in ids:
            stored = _stored(engine, txn_id)
            assert stored["redacted"] is True and stored["card"] == {"scheme": "visa"}
        assert engine.journal.scalar("PRAGMA secure_delete") == 1
    finally:
        await engine.stop()


async def test_an_advice_keeps_its_card_while_queued(tmp_path: Path) -> None:
    bank = ScriptedBank(NotSent("down"))
    settings = settings_for(tmp_path)
    engine = Engine(
        settings,
        Journal.open(settings.data_dir),
        bank,
        fingerprint=FINGERPRINT,
        card_capture=PlainCard(),
    )
    await engine.start(forward=False)
    try:
        outcome = await engine.sale(SaleRequest(eur("10.00")), lambda s: None, asyncio.Event())
        assert outcome.result is Result.APPROVED_OFFLINE
        assert _stored(engine, outcome.id)["card"] == {"scheme": "visa", "data": "sealed"}
        assert b'"data": "sealed"' in engine.journal.pending()[0].body
    finally:
        await engine.stop()


async def test_start_up_wipes_a_journal_written_before_the_rule_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    old = Engine(
        settings,
        Journal.open(settings.data_dir),
        ScriptedBank(answer("approved")),
        fingerprint=FINGERPRINT,
        card_capture=PlainCard(),
    )
    await old.start(forward=False)
    old.journal.redact = None
    txn_id = await _sale(old)
    with old.journal._write() as conn:  # as an older posterm left it: never wiped
        conn.execute("DELETE FROM meta WHERE key = 'card_data_wiped'")
    assert _stored(old, txn_id)["card"] == {"scheme": "visa", "data": "sealed"}
    await old.stop()

    engine = Engine(
        settings, Journal.open(settings.data_dir), ScriptedBank(), fingerprint=FINGERPRINT
    )
    await engine.start(forward=False)
    try:
        assert _stored(engine, txn_id)["card"] == {"scheme": "visa"}
        assert engine.journal.card_data_wiped
        assert engine.journal.wipe_card_data() == 0
    finally:
        await engine.stop()
