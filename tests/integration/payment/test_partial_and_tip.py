"""Partial approval, split tender and tip adjust against the real gateway simulator: what the
prepaid card's issuer approves, what the ledger keeps, what the batch close balances."""

from __future__ import annotations

import asyncio

import pytest
from payment_terminal import Steps, Terminal, pay

from simulators.bank.local import new_card
from terminal.money import Amount
from terminal.payment.api import Result
from terminal.payment.engine import Engine
from terminal.payment.errors import UnknownTransaction
from terminal.payment.states import State
from terminal.payment.tenders import TenderNotAllowed
from terminal.payment.tips import TipNotAllowed


def eur(text: str) -> Amount:
    return Amount.parse(text, "EUR")


def charged(term: Terminal, txn_id: str) -> list[dict[str, object]]:
    """The simulator's live ledger entries for one message id."""
    return [e for e in term.ledger() if e["id"] == txn_id and e["state"] == "active"]


async def test_prepaid_card_pays_part_and_a_second_card_pays_the_rest(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    prepaid = new_card(term.sim, "30.00", like="prepaid")
    first = await pay(engine, "50.00", prepaid, allow_partial=True)
    assert first.result is Result.APPROVED, first.message
    assert first.code == "10"
    assert first.approved_amount == eur("30.00")
    assert first.remaining_amount == eur("20.00")
    assert "paid EUR 30.00 of EUR 50.00" in first.message, first.message
    body = first.to_json()
    assert body["approved_amount"] == {"value": 3000, "currency": "EUR"}
    assert body["remaining_amount"] == {"value": 2000, "currency": "EUR"}
    sale = engine.journal.get(first.id)
    assert (sale.amount, sale.requested, sale.state) == (eur("30.00"), eur("50.00"), State.APPROVED)
    assert [e["amount"] for e in charged(term, first.id)] == [{"value": 3000, "currency": "EUR"}]
    assert term.sim.card(prepaid)["balance"]["value"] == 0

    # More than what is left is refused before anything is read or sent.
    with pytest.raises(TenderNotAllowed, match=r"Only EUR 20\.00 is left"):
        await engine.check_tender(first.id, eur("25.00"))
    second = await pay(engine, "20.00", "visa-credit", split_of=first.id)
    assert second.result is Result.APPROVED, second.message
    assert second.approved_amount == eur("20.00")
    assert second.remaining_amount == eur("0.00")
    summary = engine.tenders(first.id)
    assert summary is not None
    assert summary["requested"] == {"value": 5000, "currency": "EUR"}
    assert summary["paid"] == {"value": 5000, "currency": "EUR"}
    assert summary["remaining"] == {"value": 0, "currency": "EUR"}
    assert [t["transaction_id"] for t in summary["tenders"]] == [first.id, second.id]
    with pytest.raises(TenderNotAllowed, match=r"Only EUR 0\.00 is left"):
        await engine.cash_tender(first.id, eur("1.00"))

    closed = await engine.close_batch()
    assert closed.result == "balanced", closed.message
    assert closed.terminal_totals["sale"]["EUR"]["total"]["value"] == 5000
    assert closed.gateway_totals["sale"]["EUR"]["total"]["value"] == 5000


async def test_cash_pays_the_rest_and_the_abandoned_split_sale_voids_as_a_whole(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    prepaid = new_card(term.sim, "30.00", like="prepaid")
    first = await pay(engine, "50.00", prepaid, allow_partial=True)
    assert first.approved_amount == eur("30.00")
    cash = await engine.cash_tender(first.id, eur("5.00"))
    assert cash.result is Result.APPROVED and cash.remaining_amount == eur("15.00")
    summary = engine.tenders(first.id)
    assert summary is not None
    assert [t["method"] for t in summary["tenders"]] == ["nfc", "cash"]
    # The customer cannot pay the rest: the whole sale is voided.
    outcomes = await engine.void_tenders(first.id, Steps())
    assert [o.result for o in outcomes] == [Result.APPROVED, Result.APPROVED], outcomes
    assert engine.journal.get(first.id).state is State.VOIDED
    assert engine.journal.get(cash.id).state is State.VOIDED
    assert charged(term, first.id) == []
    assert term.sim.card(prepaid)["balance"]["value"] == 3000


async def test_partial_answer_to_a_sale_that_did_not_allow_it_is_reversed_and_declined(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    card = new_card(term.sim, "30.00", like="prepaid-always-partial")
    outcome = await pay(engine, "50.00", card)
    assert outcome.result is Result.DECLINED, outcome.message
    assert outcome.code == "10"
    assert "did not allow a partial approval" in outcome.message
    assert engine.journal.get(outcome.id).state is State.REVERSED
    assert charged(term, outcome.id) == []
    reversals = [e for e in term.ledger() if e["type"] == "reverse" and e["ref"] == outcome.id]
    assert [r["amount"] for r in reversals] == [{"value": 3000, "currency": "EUR"}]
    assert term.sim.card(card)["balance"]["value"] == 3000
    assert engine.history(limit=1)[0].result == "declined"
    # The same card on an issuer that only answers what is allowed: a plain decline (51).
    plain = new_card(term.sim, "30.00", like="prepaid")
    declined = await pay(engine, "50.00", plain)
    assert (declined.result, declined.code) == (Result.DECLINED, "51")


async def test_tip_adjust_before_close_is_what_the_batch_carries_and_refused_after(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    sale = await pay(engine, "40.00")
    assert sale.result is Result.APPROVED
    adjusted = await engine.tip_adjust(sale.id, eur("6.00"), Steps())
    assert adjusted.result is Result.APPROVED, adjusted.message
    assert adjusted.amount == eur("46.00")
    row = engine.journal.get(sale.id)
    assert (row.amount, row.tip, row.state) == (eur("46.00"), eur("6.00"), State.APPROVED)
    assert [e["amount"]["value"] for e in charged(term, sale.id)] == [4600]
    # Changed again (the waiter mistyped): still one charge, of the new total.
    again = await engine.tip_adjust(sale.id, eur("4.00"), Steps())
    assert again.result is Result.APPROVED, again.message
    assert [e["amount"]["value"] for e in charged(term, sale.id)] == [4400]

    closed = await engine.close_batch()
    assert closed.result == "balanced", closed.message
    assert closed.terminal_totals["sale"]["EUR"]["total"]["value"] == 4400
    sent = len(term.ledger())
    with pytest.raises(TipNotAllowed, match=r"batch of sale .* is closed"):
        await engine.tip_adjust(sale.id, eur("5.00"), Steps())
    assert len(term.ledger()) == sent


@pytest.mark.parametrize(
    ("tip", "words"),
    [
        ("-1.00", "cannot be negative"),
        ("10.01", "above the maximum of 25 % of EUR 40.00"),
    ],
)
async def test_bad_tips_are_refused_with_a_sentence_and_nothing_is_sent(
    running: tuple[Terminal, Engine], tip: str, words: str
) -> None:
    term, engine = running
    sale = await pay(engine, "40.00")
    sent = len(term.ledger())
    with pytest.raises(TipNotAllowed, match=words):
        await engine.tip_adjust(sale.id, Amount.parse(tip, "EUR", allow_negative=True), Steps())
    with pytest.raises(UnknownTransaction):
        await engine.tip_adjust("no-such-sale", eur("1.00"), Steps())
    assert len(term.ledger()) == sent
    assert engine.journal.get(sale.id).amount == eur("40.00")
    await asyncio.sleep(0)


def printed(engine: Engine, txn_id: str) -> str:
    """The merchant copy of a journal row's receipt, printed over ESC/POS to a fake printer
    and decoded back to paper text."""
    import time

    from drivers.printer.escpos_serial import SerialReceiptPrinter
    from simulators.printer import FakePrinter
    from terminal.receipts.model import Copy
    from terminal.receipts.printing import ReceiptPrinting
    from tests.unit.receipts.escpos_decode import decode

    with FakePrinter() as printer:
        service = ReceiptPrinting(engine.settings, SerialReceiptPrinter(printer.url, timeout=3))
        try:
            report = service.print_receipt(engine.transaction(txn_id), (Copy.MERCHANT,))
            assert report.printed, report.sentence
            deadline = time.monotonic() + 5
            while decode(printer.received).cuts < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            return decode(printer.received).text
        finally:
            service.close()


async def test_receipts_show_the_partial_approval_and_the_adjusted_tip(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    prepaid = new_card(term.sim, "30.00", like="prepaid")
    first = await pay(engine, "50.00", prepaid, allow_partial=True)
    text = printed(engine, first.id)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "Requested EUR 50.00" in lines, text
    assert "TOTAL EUR 30.00" in lines, text
    assert "PARTIAL APPROVAL" in lines, text
    assert "Left to pay EUR 20.00" in lines, text
    sale = await pay(engine, "40.00", "visa-credit")
    await engine.tip_adjust(sale.id, eur("6.00"), Steps())
    text = printed(engine, sale.id)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "Amount EUR 40.00" in lines, text
    assert "Tip EUR 6.00" in lines, text
    assert "TOTAL EUR 46.00" in lines, text


async def test_offline_sale_is_adjusted_at_once_and_the_adjust_follows_its_advice(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    engine.forwarder.health_interval_s = 0.2
    engine.forwarder.base_delay_s = 0.2
    term.sim.faults(down=True)
    sale = await pay(engine, "40.00", "visa-credit")
    assert sale.result is Result.APPROVED_OFFLINE, sale.message
    adjusted = await engine.tip_adjust(sale.id, eur("6.00"), Steps())
    assert adjusted.result is Result.APPROVED_OFFLINE, adjusted.message
    assert "goes to the bank with the offline sale" in adjusted.message
    row = engine.journal.get(sale.id)
    assert (row.amount, row.tip, row.state) == (eur("46.00"), eur("6.00"), State.APPROVED_OFFLINE)
    assert charged(term, sale.id) == []  # nothing reached the bank yet
    term.sim.faults()
    report = await engine.flush()
    assert report.left == 0 and report.declined == 0, report
    assert [e["amount"]["value"] for e in charged(term, sale.id)] == [4600]
    assert engine.journal.get(adjusted.id).state is State.FORWARDED
    closed = await engine.close_batch()
    assert closed.result == "balanced", closed.message
    assert closed.terminal_totals["sale"]["EUR"]["total"]["value"] == 4600


async def test_a_queued_adjust_the_bank_declines_gives_the_sale_its_total_back(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    engine.forwarder.health_interval_s = 0.2
    engine.forwarder.base_delay_s = 0.2
    card = new_card(term.sim, "45.00")  # pays 40.00, not 46.00
    term.sim.faults(down=True)
    sale = await pay(engine, "40.00", card)
    assert sale.result is Result.APPROVED_OFFLINE, sale.message
    adjusted = await engine.tip_adjust(sale.id, eur("6.00"), Steps())
    assert adjusted.result is Result.APPROVED_OFFLINE
    term.sim.faults()
    report = await engine.flush()
    assert report.left == 0 and report.declined == 1, report
    row = engine.journal.get(sale.id)
    assert (row.amount, row.tip, row.state) == (eur("40.00"), None, State.FORWARDED)
    assert engine.journal.get(adjusted.id).state is State.DECLINED_AFTER_FORWARD
    assert [e["amount"]["value"] for e in charged(term, sale.id)] == [4000]
    closed = await engine.close_batch()
    assert closed.result == "balanced", closed.message
