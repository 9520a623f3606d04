"""Sales against the real gateway simulator: approvals, declines, offline, unknown outcomes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from payment_terminal import Terminal, pay

from simulators.card.tap import CARDS, TappedCard
from terminal.payment.api import Result
from terminal.payment.engine import Engine
from terminal.payment.journal import JOURNAL_FILE
from terminal.payment.states import State


def balance(term: Terminal, card: str) -> str:
    return str(term.sim.card(card)["balance"])


async def test_online_approval_moves_the_money_once(running: tuple[Terminal, Engine]) -> None:
    term, engine = running
    before = balance(term, "visa-credit")
    outcome = await pay(engine, "12.34")
    assert outcome.result is Result.APPROVED, outcome.message
    assert outcome.code == "00" and len(outcome.auth_code) == 6
    assert outcome.masked_pan == "476173******0010"
    entries = [e for e in term.ledger() if e["id"] == outcome.id]
    assert len(entries) == 1
    assert entries[0]["amount"] == {"value": 1234, "currency": "EUR"}
    assert entries[0]["type"] == "authorize" and entries[0]["result"] == "approved"
    assert before != balance(term, "visa-credit")
    assert engine.journal.get(outcome.id).state is State.APPROVED


async def test_each_decline_reaches_the_operator_with_its_code(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    term.sim.cards(name="mastercard-debit", balance="10.00")
    cases = {
        "expired": ("54", "expired card"),
        "blocked": (None, None),
        "mastercard-debit": ("51", "insufficient funds"),
    }
    for profile, (code, words) in cases.items():
        outcome = await pay(engine, "20.00", profile)
        assert outcome.result is Result.DECLINED, (profile, outcome.message)
        if code:
            assert outcome.code == code, profile
            assert outcome.message.startswith("Declined by the bank:"), outcome.message
            assert f"(code {code})" in outcome.message and words, outcome.message
        else:
            assert outcome.code in ("05", "59"), outcome.code
        assert engine.journal.get(outcome.id).state is State.DECLINED
    engine.card_capture = TappedCard("visa-credit", tamper=True)
    forged = await pay(engine, "5.00")
    assert (forged.result, forged.code) == (Result.DECLINED, "05")
    stranger = replace(CARDS["visa-credit"], pan="4000000000000002")
    engine.card_capture = TappedCard(stranger)
    unknown = await pay(engine, "5.00")
    assert (unknown.result, unknown.code) == (Result.DECLINED, "14")
    assert [e for e in term.ledger() if e["result"] == "approved"] == []


async def test_gateway_down_before_send_approves_offline_then_forwards_when_it_returns(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    engine.forwarder.health_interval_s = 0.2
    engine.forwarder.base_delay_s = 0.2
    term.sim.faults(down=True)
    offline = await pay(engine, "9.99")
    assert offline.result is Result.APPROVED_OFFLINE, offline.message
    assert "floor limit of EUR 50.00" in offline.message
    above = await pay(engine, "45.00", "wallet-token")
    assert above.result is Result.APPROVED_OFFLINE
    refused = await pay(engine, "50.01", "wallet-token")
    assert (refused.result, refused.code) == (Result.DECLINED, "61")
    assert "above the offline floor limit of EUR 50.00" in refused.message
    assert term.ledger() == []
    status = engine.queue_status()
    assert (status.count, str(status.total)) == (2, "EUR 54.99")
    term.sim.faults()
    for _ in range(100):
        if engine.queue_status().count == 0:
            break
        await asyncio.sleep(0.1)
    assert engine.journal.get(offline.id).state is State.FORWARDED
    advices = [e for e in term.ledger() if e["type"] == "advice"]
    assert sorted(e["id"] for e in advices) == sorted([offline.id, above.id])


async def test_offline_expired_card_and_velocity_are_named(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal(risk={"velocity_count": 2})
    engine = term.engine(TappedCard("visa-credit"))
    await engine.start(forward=False)
    try:
        term.sim.faults(down=True)
        expired = await pay(engine, "5.00", "expired")
        assert (expired.result, expired.code) == (Result.DECLINED, "54")
        assert expired.message == "The bank cannot be reached and the card has expired."
        results = [(await pay(engine, "5.00", "visa-credit")).result for _ in range(3)]
        assert results == [Result.APPROVED_OFFLINE, Result.APPROVED_OFFLINE, Result.DECLINED]
        last = engine.history(limit=1)[0]
        assert "(limit 2)" in last.message and last.code == "65"
    finally:
        term.sim.faults()
        await engine.stop()


async def test_answer_lost_after_booking_resends_the_same_id_then_reverses(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    before = balance(term, "visa-credit")
    term.sim.faults(drop_after=1.0)
    outcome = await pay(engine, "25.00")
    assert outcome.result is Result.ERROR and outcome.code == "68"
    assert outcome.result.exit_code == 3
    assert engine.journal.get(outcome.id).state in (State.REVERSING, State.REVERSED)
    term.sim.faults()
    report = await engine.flush()
    assert report.left == 0
    assert engine.journal.get(outcome.id).state is State.REVERSED
    ledger = term.ledger()
    charge = [e for e in ledger if e["id"] == outcome.id]
    reversal = [e for e in ledger if e["ref"] == outcome.id]
    assert len(charge) == 1, "the re-sent authorize must not book twice"
    assert [e["type"] for e in reversal] == ["reverse"]
    assert balance(term, "visa-credit") == before


async def test_dropped_request_is_reversed_and_nothing_stays_charged(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    before = balance(term, "visa-credit")
    term.sim.faults(drop_before=1.0)
    outcome = await pay(engine, "7.00")
    assert outcome.result is Result.ERROR
    term.sim.faults()
    await engine.flush()
    assert engine.journal.get(outcome.id).state is State.REVERSED
    assert [e for e in term.ledger() if e["id"] == outcome.id] == []
    assert balance(term, "visa-credit") == before


async def test_refund_and_void_reach_the_ledger(running: tuple[Terminal, Engine]) -> None:
    term, engine = running
    sale = await pay(engine, "30.00")
    refund = await engine.refund(sale.id, _eur("10.00"), lambda step: None)
    assert refund.result is Result.APPROVED, refund.message
    other = await pay(engine, "8.00")
    void = await engine.void(other.id, lambda step: None)
    assert void.result is Result.APPROVED, void.message
    ledger = {e["id"]: e for e in term.ledger()}
    assert ledger[refund.id]["type"] == "refund" and ledger[refund.id]["ref"] == sale.id
    assert ledger[void.id]["type"] == "void"
    assert engine.journal.get(sale.id).state is State.PARTIALLY_REFUNDED
    assert engine.journal.get(other.id).state is State.VOIDED


async def test_batch_close_balances_with_the_gateway(running: tuple[Terminal, Engine]) -> None:
    term, engine = running
    sale = await pay(engine, "30.00")
    await engine.refund(sale.id, _eur("5.00"), lambda step: None)
    voided = await pay(engine, "4.00")
    await engine.void(voided.id, lambda step: None)
    await pay(engine, "11.00")
    term.sim.faults(down=True)
    await pay(engine, "3.00")  # offline: forwarded by the close
    term.sim.faults()
    result = await engine.close_batch()
    assert result.result == "balanced", (result.terminal_totals, result.gateway_totals)
    assert result.terminal_totals["sale"]["EUR"] == {
        "count": 3,
        "total": {"value": 4400, "currency": "EUR"},
    }
    assert engine.totals().lines == []


async def test_no_full_pan_or_track_data_reaches_the_disk(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    await pay(engine, "5.00")
    term.sim.faults(down=True)
    await pay(engine, "6.00")
    term.sim.faults()
    pan = CARDS["visa-credit"].pan
    data = b"".join(path.read_bytes() for path in engine.settings.data_dir.glob(f"{JOURNAL_FILE}*"))
    assert pan.encode() not in data and pan[6:].encode() not in data
    bodies = [row[0] for row in engine.journal.rows("SELECT request FROM transactions")]
    bodies += [row[0] for row in engine.journal.rows("SELECT body FROM outbox")]
    for body in bodies:
        if body.startswith(b"{"):  # answered: its card data was wiped, the rest kept
            payload = json.loads(body)["payload"]
            assert "data" not in payload.get("card", {})
        else:
            payload = json.loads(_b64(body.split(b".")[1]))
            if "card" in payload:  # may still be sent: sealed
                assert payload["card"]["data"].count(".") == 4  # a JWE only the gateway opens
        assert pan not in json.dumps(payload)
        if "card" in payload:
            assert payload["card"]["masked_pan"] == "476173******0010"
    fingerprints = {t.fingerprint for t in engine.journal.find("type = 'sale'")}
    assert len(fingerprints) == 1 and len(next(iter(fingerprints))) == 64


def _b64(part: bytes) -> bytes:
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def _eur(text: str) -> Any:
    from terminal.money import Amount

    return Amount.parse(text, "EUR")


async def test_a_batch_close_whose_answer_was_lost_is_resent_and_stays_balanced(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    await pay(engine, "10.00")
    term.sim.faults(drop_after=1.0)
    unanswered = await engine.close_batch()
    assert unanswered.result == "error", "the close must not look done without an answer"
    assert "the same close is sent again" in unanswered.message
    assert [line.total for line in engine.totals().lines] == [_eur("10.00")]  # still open
    term.sim.faults()
    later = await pay(engine, "2.50")  # the bank already counts it in its next batch
    first = await engine.close_batch()
    assert first.result == "balanced", (first.terminal_totals, first.gateway_totals)
    assert first.terminal_totals["sale"]["EUR"]["count"] == 1
    assert [line.total for line in engine.totals().lines] == [_eur("2.50")]
    assert engine.journal.get(later.id).batch == 2
    second = await engine.close_batch()
    assert second.result == "balanced", (second.terminal_totals, second.gateway_totals)


class ShownCode:
    """A `CodeScanner` that sees the code the simulator's wallet issued (camera tests are in
    tests/integration/qr)."""

    def __init__(self, text: str) -> None:
        self.text = text

    async def scan(self, cancel: asyncio.Event, timeout_s: float) -> str:
        return self.text


async def test_customer_presented_code_is_approved_once(running: tuple[Terminal, Engine]) -> None:
    from terminal.payment.api import EntryMethod

    term, engine = running
    code = term.sim.wallet_code("wallet-token")["code"]
    engine.code_scanner = ShownCode(code)
    first = await pay(engine, "4.20", method=EntryMethod.QR_SCAN)
    assert (first.result, first.entry) == (Result.APPROVED, "qr_cpm"), first.message
    again = await pay(engine, "4.20", method=EntryMethod.QR_SCAN)
    assert (again.result, again.code) == (Result.DECLINED, "65")
    assert [e["id"] for e in term.ledger()] == [first.id]
    term.sim.faults(down=True)
    offline = await pay(engine, "1.00", method=EntryMethod.QR_SCAN)
    assert (offline.result, offline.code) == (Result.DECLINED, "91")
    assert "QR payments are never approved offline" in offline.message
