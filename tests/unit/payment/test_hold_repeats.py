"""A till's retry of an increment, capture or cancel is answered from the journal and never
reaches the bank twice: under the same reference (its idempotency key), in this run, from a
concurrent retry, and after the journal is reopened; a reference reused for another amount is
refused with a sentence (issue #17)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scripted_bank import ScriptedBank, answer
from test_payment_engine import FINGERPRINT, PlainCard, eur, settings_for

from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.bank import Delivery, NotSent
from terminal.payment.engine import Engine
from terminal.payment.errors import HoldNotAllowed
from terminal.payment.holds import HoldKind, check_hold
from terminal.payment.journal import Journal
from terminal.settings import Settings


class SlowBank(ScriptedBank):
    """Approves every message after a pause, so two retries overlap."""

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        await asyncio.sleep(0.2)
        self.script = [answer("approved", "00", "A2")]
        return await super().deliver(message_id, stored, deadline_s=deadline_s)


def _engine(settings: Settings, bank: ScriptedBank) -> Engine:
    return Engine(
        settings,
        Journal.open(settings.data_dir),
        bank,
        fingerprint=FINGERPRINT,
        card_capture=PlainCard(),
    )


async def _held(settings: Settings, amount: str = "40.00") -> str:
    engine = _engine(settings, ScriptedBank(answer("approved", "00", "H1")))
    await engine.start(forward=False)
    try:
        held = await engine.preauth(SaleRequest(eur(amount)), lambda s: None, asyncio.Event())
        assert held.result is Result.APPROVED, held.message
        return held.id
    finally:
        await engine.stop()


async def _act(
    engine: Engine,
    kind: HoldKind,
    hold_id: str,
    amount: str | None = None,
    reference: str = "",
    tip: str | None = None,
) -> Outcome:
    action = await engine.check_hold(
        kind, hold_id, eur(amount) if amount else None, eur(tip) if tip else None, reference
    )
    return await engine.act_on_hold(action, lambda s: None)


def _sent(bank: ScriptedBank, kind: str) -> list[int]:
    return [m["amount"]["value"] for m in bank.sent if m["type"] == kind]


async def test_an_increment_retried_under_its_reference_is_sent_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    hold_id = await _held(settings)
    bank = ScriptedBank(answer("approved", "00", "A2"))
    engine = _engine(settings, bank)
    await engine.start(forward=False)
    try:
        first = await _act(engine, "increment", hold_id, "10.00", "till-7")
        again = await _act(engine, "increment", hold_id, "10.00", "till-7")
        held = engine.transaction(hold_id).held
        with pytest.raises(HoldNotAllowed, match='Reference "till-7" was used') as refused:
            await engine.check_hold("increment", hold_id, eur("12.00"), None, "till-7")
    finally:
        await engine.stop()
    assert first.result is Result.APPROVED, first.message
    assert (again.id, again.result, again.amount, again.auth_code) == (
        first.id,
        first.result,
        first.amount,
        first.auth_code,
    )
    assert again.message == first.message
    assert _sent(bank, "increment") == [1000]
    assert held == eur("50.00")  # raised once
    assert refused.value.exit_code == 2
    assert "Nothing was sent" in refused.value.sentence


async def test_two_concurrent_retries_send_one_increment(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    hold_id = await _held(settings)
    bank = SlowBank()
    engine = _engine(settings, bank)
    await engine.start(forward=False)
    try:
        # Both pass the first check before either row exists: the check inside the commit
        # that creates the row is what stops the second.
        actions = [
            await engine.check_hold("increment", hold_id, eur("10.00"), None, "till-8")
            for _ in range(2)
        ]
        assert all(a.repeat_of is None for a in actions)
        endings = await asyncio.gather(*(engine.act_on_hold(a, lambda s: None) for a in actions))
        held = engine.transaction(hold_id).held
    finally:
        await engine.stop()
    assert [e.result for e in endings] == [Result.APPROVED, Result.APPROVED]
    assert endings[0].id == endings[1].id
    assert _sent(bank, "increment") == [1000]
    assert held == eur("50.00")


async def test_a_retry_after_the_journal_is_reopened_is_answered_from_it(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    hold_id = await _held(settings)
    bank = ScriptedBank(answer("approved", "00", "A3"))
    engine = _engine(settings, bank)
    await engine.start(forward=False)
    try:
        first = await _act(engine, "increment", hold_id, "15.00", "till-9")
    finally:
        await engine.stop()
    later = ScriptedBank(answer("approved", "00", "A4"))
    reopened = _engine(settings, later)
    await reopened.start(forward=False)
    try:
        again = await _act(reopened, "increment", hold_id, "15.00", "till-9")
        other = await _act(reopened, "increment", hold_id, "15.00", "till-10")
        held = reopened.transaction(hold_id).held
    finally:
        await reopened.stop()
    assert (again.id, again.result, again.auth_code) == (first.id, Result.APPROVED, "A3")
    assert later.sent == [m for m in later.sent if m["id"] == other.id]  # only the new one
    assert other.result is Result.APPROVED and other.id != first.id
    assert held == eur("70.00")


async def test_an_increment_that_was_not_sent_frees_its_reference(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    hold_id = await _held(settings)
    bank = ScriptedBank(NotSent("connect refused"), answer("approved", "00", "A5"))
    engine = _engine(settings, bank)
    await engine.start(forward=False)
    try:
        failed = await _act(engine, "increment", hold_id, "5.00", "till-11")
        retried = await _act(engine, "increment", hold_id, "5.00", "till-11")
        held = engine.transaction(hold_id).held
    finally:
        await engine.stop()
    assert failed.result is Result.ERROR
    assert retried.result is Result.APPROVED and retried.id != failed.id
    assert _sent(bank, "increment") == [500, 500]
    assert held == eur("45.00")


async def test_a_repeated_capture_and_cancel_answer_the_first_outcome(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    captured_hold = await _held(settings)
    released_hold = await _held(settings, "25.00")
    bank = ScriptedBank(answer("approved", "00", "C1"), answer("approved", "00", "R1"))
    engine = _engine(settings, bank)
    await engine.start(forward=False)
    try:
        capture = await _act(engine, "capture", captured_hold, "38.00", "till-12", tip="2.00")
        by_reference = await _act(engine, "capture", captured_hold, "38.00", "till-12", tip="2.00")
        with pytest.raises(HoldNotAllowed, match="is captured"):  # no reference: refused
            await engine.check_hold("capture", captured_hold, eur("38.00"), eur("2.00"))
        cancel = await _act(engine, "preauth_cancel", released_hold, reference="till-14")
        cancel_again = await _act(engine, "preauth_cancel", released_hold, reference="till-14")
    finally:
        await engine.stop()
    assert capture.result is Result.APPROVED and capture.amount == eur("40.00")
    assert (by_reference.id, by_reference.result, by_reference.amount) == (
        capture.id,
        capture.result,
        eur("40.00"),
    )
    assert cancel.result is Result.APPROVED
    assert (cancel_again.id, cancel_again.result) == (cancel.id, Result.APPROVED)
    assert _sent(bank, "capture") == [4000]
    assert [m["type"] for m in bank.sent] == ["capture", "preauth_cancel"]


def test_the_check_in_the_commit_sees_the_reference(tmp_path: Path) -> None:
    """`check_hold` with a journal `Reader` (inside the commit) finds the row too."""
    settings = settings_for(tmp_path)
    hold_id = asyncio.run(_held(settings))
    journal = Journal.open(settings.data_dir)
    try:
        journal.create("inc-1", "increment", eur("3.00"), ref=hold_id, reference="till-13")
        seen: list[str] = []

        def guard(reads: object) -> None:
            action = check_hold(reads, "increment", hold_id, eur("3.00"), None, "till-13")  # type: ignore[arg-type]
            seen.append(action.repeat_of.id if action.repeat_of else "")
            raise RuntimeError("stop before writing")

        with pytest.raises(RuntimeError):
            journal.create("inc-2", "increment", eur("3.00"), ref=hold_id, guard=guard)
    finally:
        journal.close()
    assert seen == ["inc-1"]
