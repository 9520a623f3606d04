"""The offline caps are checked and taken in one commit: two engines sharing one journal, each
in its own thread with its own event loop and SQLite connection (as two processes have), race
for the last offline slot and exactly one gets it (the assessor: check and write were separate
commits, so both could pass)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from scripted_bank import ScriptedBank
from test_payment_engine import FINGERPRINT, PlainCard, eur, settings_for

from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.bank import NotSent
from terminal.payment.engine import Engine
from terminal.payment.journal import Journal
from terminal.payment.risk import Decision, Limits, OfflineFacts, Rule
from terminal.settings import Settings


def rendezvous(barrier: threading.Barrier) -> Rule:
    """An offline rule that holds each decision until the other engine decides too (or a
    second passed): both read the caps "at the same time" whenever the code lets them."""

    def rule(limits: Limits, facts: OfflineFacts) -> Decision | None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # the other one is held back by the journal: the race cannot happen
        return None

    return rule


def one_offline_sale(settings: Settings, pan: str, rules: list[Rule]) -> Outcome:
    """A sale on its own engine, loop and journal connection, while the bank is down."""

    async def main() -> Outcome:
        engine = Engine(
            settings,
            Journal.open(settings.data_dir),
            ScriptedBank(NotSent("down")),
            fingerprint=FINGERPRINT,
            card_capture=PlainCard(pan=pan),
            extra_rules=rules,
        )
        await engine.start(forward=False)
        try:
            request = SaleRequest(eur("6.00"))
            return await engine.sale(request, lambda step: None, asyncio.Event())
        finally:
            await engine.stop()

    return asyncio.run(main())


def test_two_engines_race_for_the_last_offline_slot_and_one_wins(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, offline={"max_count": 3})
    for n in range(2):  # two slots taken, one left
        taken = one_offline_sale(settings, f"47617390010100{n:02d}", [])
        assert taken.result is Result.APPROVED_OFFLINE, taken.message
    barrier = threading.Barrier(2, timeout=1.0)
    outcomes: list[Outcome] = []
    threads = [
        threading.Thread(
            target=lambda n=n: outcomes.append(
                one_offline_sale(settings, f"47617390010101{n:02d}", [rendezvous(barrier)])
            )
        )
        for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    results = sorted(outcome.result.value for outcome in outcomes)
    assert results == ["approved_offline", "declined"], [o.message for o in outcomes]
    loser = next(o for o in outcomes if o.result is Result.DECLINED)
    assert "offline" in loser.message.lower()
    journal = Journal.open(settings.data_dir)
    try:
        assert journal.scalar("SELECT COUNT(*) FROM transactions WHERE offline = 1") == 3
        assert journal.pending_count() == 3
    finally:
        journal.close()
