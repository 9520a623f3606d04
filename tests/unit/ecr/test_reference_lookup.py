"""The till's reference is looked up exactly, over the whole journal (finding 2)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from terminal.ecr import payments as ecr_payments
from terminal.ecr.errors import Conflict
from terminal.ecr.payments import EcrPayment, EcrPayments
from terminal.ecr.requests import PaymentRequest
from terminal.money import Amount
from terminal.payment.api import EntryMethod
from terminal.payment.journal import JOURNAL_FILE, Change, Journal
from terminal.payment.states import Event
from tests.ui.memory_engine import MemoryEngine

LOOK_ALIKES = [f"ORD-{n}" for n in (*range(70, 80), *range(700, 710))]


def eur(minor: int) -> Amount:
    return Amount.of(minor, "EUR")


def test_exact_reference_finds_the_sale_behind_twenty_look_alikes(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    journal.create("t-7", "sale", eur(1007), entry="nfc", reference="ORD-7")
    for n, reference in enumerate(LOOK_ALIKES):
        journal.create(f"t-{reference}", "sale", eur(2000 + n), entry="nfc", reference=reference)
    journal.create("r-7", "refund", eur(1007), reference="ORD-7", ref="t-7")
    journal.create("t-7b", "sale", eur(1007), entry="nfc", reference="ord-7")

    assert [txn.id for txn in journal.sales_with_reference("ORD-7")] == ["t-7"]
    assert journal.sales_with_reference("ORD-") == []
    assert journal.sales_with_reference("%") == []
    assert journal.sales_with_reference("") == []
    journal.close()


def test_reference_lookup_uses_its_index_also_in_an_older_journal(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    with sqlite3.connect(tmp_path / JOURNAL_FILE) as conn:  # as an older posterm left it
        conn.execute("DROP INDEX transactions_reference")
    journal = Journal.open(tmp_path)
    plan = journal.rows(
        "EXPLAIN QUERY PLAN SELECT * FROM transactions WHERE reference = ? AND type = 'sale'",
        ("ORD-7",),
    )
    assert any("transactions_reference" in row[3] for row in plan)
    journal.close()


def test_newest_charged_sale_wins_and_declined_ones_are_skipped(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    journal.create("t-1", "sale", eur(500), entry="nfc", reference="INV-1")
    journal.apply(Change("t-1", Event.SEND), Change("t-1", Event.APPROVE))
    journal.create("t-2", "sale", eur(500), entry="nfc", reference="INV-1")
    journal.apply(Change("t-2", Event.SEND), Change("t-2", Event.DECLINE))
    lookup = ecr_payments.journal_sales(_WithJournal(journal))  # type: ignore[arg-type]
    found = [(sale.id, sale.result) for sale in lookup("INV-1")]
    assert found == [("t-2", "declined"), ("t-1", "approved")]
    journal.close()


class _WithJournal:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal


async def _paid(payments: EcrPayments, engine: MemoryEngine, reference: str, minor: int) -> str:
    payment, new = payments.start(PaymentRequest(eur(minor), EntryMethod.NFC, reference))
    assert new and isinstance(payment, EcrPayment)
    engine.tap()
    await payments.wait(payment, 5)
    assert payment.outcome is not None and payment.outcome.result == "approved"
    return payment.outcome.id


async def test_a_reference_the_memory_forgot_is_still_not_charged_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ecr_payments, "KEEP", 3)  # 500 in production: same rule, fewer sales
    engine = MemoryEngine()
    payments = EcrPayments(engine)
    first = await _paid(payments, engine, "ORD-7", 1007)
    for n, reference in enumerate(LOOK_ALIKES):
        await _paid(payments, engine, reference, 2000 + n)
    assert "ORD-7" not in payments._by_reference  # forgotten by this run's map

    again, new = payments.start(PaymentRequest(eur(1007), EntryMethod.NFC, "ORD-7"))
    assert (again, new) == (first, False)
    with pytest.raises(Conflict) as refused:
        payments.start(PaymentRequest(eur(1007), EntryMethod.QR_SHOW, "ORD-7"))
    assert refused.value.code == "reference_conflict"
    assert len(engine.requests) == 1 + len(LOOK_ALIKES)
    await asyncio.wait_for(payments.close(), 5)
