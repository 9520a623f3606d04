"""The payment commands as a till or a technician runs them, against the real simulator."""

from __future__ import annotations

import json
from collections.abc import Callable

from payment_terminal import Terminal, pay

from simulators.card.tap import TappedCard
from terminal.payment.api import Result

OUTCOME_KEYS = ["id", "result", "code", "auth_code", "amount", "entry", "masked_pan", "message"]


async def two_sales_offline_and_one_online(term: Terminal) -> list[str]:
    engine = term.engine(TappedCard("visa-credit"))
    await engine.start(forward=False)
    try:
        online = await pay(engine, "20.00")
        assert online.result is Result.APPROVED
        term.sim.faults(down=True)
        ids = [(await pay(engine, amount)).id for amount in ("3.00", "4.50")]
    finally:
        await engine.stop()
    return [online.id, *ids]


async def test_saf_status_and_flush(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    _, *offline_ids = await two_sales_offline_and_one_online(term)
    status = term.cli("saf", "status", "--json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert (shown["count"], shown["advices"], shown["reversals"]) == (2, 2, 0)
    assert shown["total"] == {"value": 750, "currency": "EUR"}
    assert shown["oldest"] is not None and shown["declined_after_forward"] == []
    still_down = term.cli("saf", "flush", "--timeout", "20")
    assert still_down.returncode == 3
    assert "pending:    2" in still_down.stdout
    assert "gateway unreachable" in still_down.stdout
    not_closed = term.cli("close-batch", "--json", timeout=90)
    assert not_closed.returncode == 3 and not_closed.stdout == ""
    assert "could not be forwarded" in not_closed.stderr
    assert "the batch stays open" in not_closed.stderr
    term.sim.faults()
    flushed = term.cli("saf", "flush", "--json")
    assert flushed.returncode == 0, flushed.stderr
    report = json.loads(flushed.stdout)
    assert (report["forwarded"], report["count"]) == (2, 0)
    assert "forwarded" in flushed.stderr
    advices = sorted(e["id"] for e in term.ledger() if e["type"] == "advice")
    assert advices == sorted(offline_ids)


async def test_history_and_totals_json(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    ids = await two_sales_offline_and_one_online(term)
    history = term.cli("history", "--json")
    assert history.returncode == 0, history.stderr
    rows = json.loads(history.stdout)
    assert [row["id"] for row in rows] == list(reversed(ids))
    for row in rows:
        for key in ("id", "type", "state", "result", "amount", "entry", "masked_pan", "created_at"):
            assert key in row
    assert rows[-1]["result"] == "approved" and rows[0]["result"] == "approved_offline"
    assert rows[0]["masked_pan"] == "476173******0010"
    totals = json.loads(term.cli("totals", "--json").stdout)
    lines = {(ln["type"], ln["result"]): ln for ln in totals["lines"]}
    assert lines[("sale", "approved_offline")]["count"] == 2
    assert lines[("sale", "approved")]["total"] == {"value": 2000, "currency": "EUR"}


async def test_refund_and_void_refusals_send_nothing(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    online_id, offline_id, _ = await two_sales_offline_and_one_online(term)
    term.sim.faults()
    before = term.ledger()
    too_much = term.cli("refund", online_id, "--amount", "20.01", "--json")
    assert too_much.returncode == 2
    answer = json.loads(too_much.stdout)
    assert answer["result"] == "error"
    assert "only EUR 20.00" in answer["message"] and "Nothing was sent" in answer["message"]
    unknown = term.cli("void", "2b0c5a56-0000-4000-8000-000000000000")
    assert unknown.returncode == 2
    assert "No transaction with id" in unknown.stderr and unknown.stdout == ""
    not_yet = term.cli("refund", offline_id)
    assert not_yet.returncode == 2 and "has not reached the bank yet" in not_yet.stderr
    assert term.ledger() == before
    partial = term.cli("refund", online_id, "--amount", "5.00", "--json")
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout)["result"] == "approved"
    closed = term.cli("close-batch")
    assert closed.returncode == 0, closed.stdout + closed.stderr
    settled = term.cli("void", online_id)
    assert settled.returncode == 2
    assert "it cannot be voided" in settled.stderr or "settled" in settled.stderr


def test_pay_without_a_card_reader_is_a_device_error(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    done = term.cli("pay", "--amount", "12.34", "--json")
    assert done.returncode == 3, done.stderr
    answer = json.loads(done.stdout)
    assert list(answer) == OUTCOME_KEYS
    assert answer["result"] == "error" and answer["message"]
    assert term.ledger() == []


def test_pay_usage_errors_exit_2(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    bad_amount = term.cli("pay", "--amount", "12.345", "--json")
    assert bad_amount.returncode == 2
    assert json.loads(bad_amount.stdout)["result"] == "error"
    other_currency = term.cli("pay", "--amount", "1.00", "--currency", "USD")
    assert other_currency.returncode == 2
    assert "takes EUR, not USD" in other_currency.stderr
    missing = term.cli("pay")
    assert missing.returncode == 2 and "--amount" in missing.stderr


async def test_an_advice_the_bank_declines_is_reported(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    engine = term.engine(TappedCard("mastercard-debit"))
    await engine.start(forward=False)
    try:
        term.sim.faults(down=True)
        offline = await pay(engine, "30.00")
        assert offline.result is Result.APPROVED_OFFLINE
    finally:
        await engine.stop()
    term.sim.faults()
    term.sim.cards(name="mastercard-debit", balance="1.00")
    flushed = term.cli("saf", "flush", "--json")
    assert flushed.returncode == 0, flushed.stderr
    report = json.loads(flushed.stdout)
    assert (report["forwarded"], report["declined"]) == (1, 1)
    status = term.cli("saf", "status")
    assert f"declined by the bank after forwarding: {offline.id} EUR 30.00 code 51" in status.stdout
    row = json.loads(term.cli("history", "--json").stdout)[0]
    assert (row["state"], row["result"], row["code"]) == (
        "declined_after_forward",
        "declined",
        "51",
    )
