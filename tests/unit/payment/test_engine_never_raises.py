"""The engine's entry points never raise for a runtime failure: a bank link, a journal or a
device that fails in a way nobody foresaw ends as an error outcome with a sentence, the bug is
logged with its traceback, and the transaction is left where nobody has to rescue it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from scripted_bank import ScriptedBank, answer
from test_payment_engine import FINGERPRINT, PlainCard, Steps, eur, settings_for

from terminal.payment.api import Result, SaleRequest, Stage
from terminal.payment.bank import Delivery, NotSent, Operation
from terminal.payment.engine import Engine
from terminal.payment.journal import Journal
from terminal.payment.states import Event, State


class BrokenBank(ScriptedBank):
    """A bank link whose delivery or encoding fails with an error no adapter translates."""

    def __init__(self, *, deliver_fails: bool = False, encode_fails: bool = False) -> None:
        super().__init__()
        self.deliver_fails, self.encode_fails = deliver_fails, encode_fails

    def encode(self, operation: Operation, seq: int, at: datetime) -> bytes:
        if self.encode_fails and operation.type != "reverse":
            raise KeyError("a bug in the adapter")
        return super().encode(operation, seq, at)

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        if self.deliver_fails and b'"reverse"' not in stored:
            self.sent.append({"id": message_id})
            raise RuntimeError("a bug in the bank link")
        return await super().deliver(message_id, stored, deadline_s=deadline_s)


async def engine_with(tmp_path: Path, bank: ScriptedBank, **devices: Any) -> Engine:
    settings = settings_for(tmp_path)
    devices.setdefault("card_capture", PlainCard())
    engine = Engine(
        settings, Journal.open(settings.data_dir), bank, fingerprint=FINGERPRINT, **devices
    )
    await engine.start(forward=False)
    return engine


@pytest.fixture
async def broken_link(tmp_path: Path) -> AsyncIterator[tuple[Engine, BrokenBank]]:
    bank = BrokenBank(deliver_fails=True)
    engine = await engine_with(tmp_path, bank)
    yield engine, bank
    await engine.stop()


def logged_with_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return any(r.exc_info and "failed inside the terminal" in r.message for r in caplog.records)


async def test_a_bank_link_bug_after_sending_ends_in_error_and_reverses(
    broken_link: tuple[Engine, BrokenBank], caplog: pytest.LogCaptureFixture
) -> None:
    engine, bank = broken_link
    bank.add(answer("reversed"))
    steps = Steps()
    with caplog.at_level(logging.ERROR):
        outcome = await engine.sale(SaleRequest(eur("10.00")), steps, asyncio.Event())
    assert outcome.result is Result.ERROR and outcome.id
    assert outcome.message == (
        "The terminal had an internal problem (details are in the log). The payment is being "
        "reversed, so nothing stays charged. Check history before trying again."
    )
    assert steps[-1].stage is Stage.RESULT  # the operator was told the end
    assert logged_with_traceback(caplog)
    # The request may have reached the bank: its reversal is committed, the sale is reversing.
    assert engine.journal.get(outcome.id).state is State.REVERSING
    assert [(q.kind, q.txn_id) for q in engine.journal.pending()] == [("reverse", outcome.id)]
    await engine.flush()
    assert engine.journal.get(outcome.id).state is State.REVERSED


async def test_a_bank_link_bug_during_a_refund_ends_in_error_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bank = BrokenBank()
    engine = await engine_with(tmp_path, bank)
    try:
        bank.add(answer("approved", "00", "A1"))
        sale = await engine.sale(SaleRequest(eur("20.00")), Steps(), asyncio.Event())
        bank.deliver_fails = True
        with caplog.at_level(logging.ERROR):
            outcome = await engine.refund(sale.id, eur("5.00"), Steps())
        assert (outcome.result, outcome.amount) == (Result.ERROR, eur("5.00"))
        assert "internal problem" in outcome.message
        assert logged_with_traceback(caplog)
        assert engine.journal.get(outcome.id).state is State.REVERSING
        assert engine.journal.get(sale.id).state is State.APPROVED  # the sale did not move
    finally:
        await engine.stop()


async def test_an_adapter_bug_before_sending_cancels_and_nothing_leaves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bank = BrokenBank(encode_fails=True)
    engine = await engine_with(tmp_path, bank)
    try:
        with caplog.at_level(logging.ERROR):
            outcome = await engine.sale(SaleRequest(eur("10.00")), Steps(), asyncio.Event())
        assert outcome.result is Result.ERROR
        assert "Nothing was charged." in outcome.message
        assert bank.sent == [] and engine.journal.pending() == []
        assert engine.journal.get(outcome.id).state is State.CANCELLED
        assert logged_with_traceback(caplog)
    finally:
        await engine.stop()


class ExplodingCard:
    """A card capture with a bug: raises what no device error tree knows."""

    async def read_card(self, amount: Any, cancel: asyncio.Event, progress: Any) -> Any:
        raise ZeroDivisionError("a bug in the capture")


async def test_a_device_bug_ends_the_sale_cancelled_with_a_sentence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bank = ScriptedBank()
    engine = await engine_with(tmp_path, bank, card_capture=ExplodingCard())
    try:
        with caplog.at_level(logging.ERROR):
            outcome = await engine.sale(SaleRequest(eur("10.00")), Steps(), asyncio.Event())
        assert outcome.result is Result.ERROR and outcome.message.startswith(
            "The terminal had an internal problem"
        )
        assert engine.journal.get(outcome.id).state is State.CANCELLED
        assert bank.sent == []
        assert logged_with_traceback(caplog)
    finally:
        await engine.stop()


async def test_a_journal_that_fails_after_sending_leaves_the_sale_for_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bank = ScriptedBank(answer("approved", "00", "A1"))
    engine = await engine_with(tmp_path, bank)
    real_apply = engine.journal.apply

    def apply(*changes: Any) -> list[State]:
        if any(change.event is Event.APPROVE for change in changes):
            raise OSError("I/O error on the journal's disk")
        return real_apply(*changes)

    engine.journal.apply = apply  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.ERROR):
            outcome = await engine.sale(SaleRequest(eur("10.00")), Steps(), asyncio.Event())
        assert outcome.result is Result.ERROR and outcome.id
        assert "internal problem" in outcome.message
        # Approved by the bank but not recorded: the engine reverses rather than guess.
        assert engine.journal.get(outcome.id).state is State.REVERSING
        assert logged_with_traceback(caplog)
    finally:
        engine.journal.apply = real_apply  # type: ignore[method-assign]
        await engine.stop()


async def test_a_batch_close_the_bank_never_got_ends_as_error_and_stays_open(
    tmp_path: Path,
) -> None:
    bank = ScriptedBank(answer("approved", "00", "A1"), NotSent("connection refused"))
    engine = await engine_with(tmp_path, bank)
    try:
        await engine.sale(SaleRequest(eur("10.00")), Steps(), asyncio.Event())
        closed = await engine.close_batch()
        still_open = [line.total for line in engine.totals().lines]
    finally:
        await engine.stop()
    assert closed.result == "error"
    assert closed.message == (
        "The batch could not be closed (not sent: connection refused); it stays open. "
        "Try again later: the same close is sent again."
    )
    assert closed.terminal_totals["sale"]["EUR"]["count"] == 1  # what was offered
    assert still_open == [eur("10.00")]


async def test_a_bug_during_the_batch_close_ends_as_error_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bank = BrokenBank(deliver_fails=True)
    engine = await engine_with(tmp_path, bank)
    try:
        with caplog.at_level(logging.ERROR):
            closed = await engine.close_batch()
    finally:
        await engine.stop()
    assert closed.result == "error"
    assert closed.message == (
        "The terminal had an internal problem (details are in the log). "
        "The batch stays open; try again."
    )
    assert logged_with_traceback(caplog)
