"""Pre-authorisation end to end against the real simulator: hold, raise, capture with a tip,
cancel, the tolerance, expiry, offline, and requests refused before anything is sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from payment_terminal import Steps, Terminal

from simulators.card.tap import TappedCard
from terminal.money import Amount
from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.engine import Engine
from terminal.payment.errors import HoldNotAllowed, UnknownTransaction
from terminal.payment.holds import HoldKind

CARD = "wallet-token"  # a phone that verified its owner: holds above the CVM limit


def eur(text: str) -> Amount:
    return Amount.parse(text, "EUR")


def balance(term: Terminal, card: str = CARD) -> Amount:
    return Amount.from_json(term.sim.card(card)["balance"])


async def hold(engine: Engine, amount: str) -> Outcome:
    return await engine.preauth(SaleRequest(eur(amount)), Steps(), asyncio.Event())


async def act(
    engine: Engine,
    kind: HoldKind,
    hold_id: str,
    amount: str | None = None,
    tip: str | None = None,
) -> Outcome:
    action = await engine.check_hold(
        kind, hold_id, eur(amount) if amount else None, eur(tip) if tip else None
    )
    return await engine.act_on_hold(action, Steps())


@pytest.fixture
async def tab(terminal: Callable[..., Terminal]) -> AsyncIterator[tuple[Terminal, Engine]]:
    term = terminal()
    engine = term.engine(TappedCard(CARD))
    await engine.start()
    await engine.link_checked()
    yield term, engine
    await engine.stop()


async def test_hold_raise_and_capture_with_tip_is_one_charge(
    tab: tuple[Terminal, Engine],
) -> None:
    term, engine = tab
    opening = balance(term)
    held = await hold(engine, "100.00")
    assert held.result is Result.APPROVED, held.message
    assert "held on the card" in held.message
    assert balance(term) == opening - eur("100.00")  # a hold reduces what the card can pay
    raised = await act(engine, "increment", held.id, "20.00")
    assert raised.result is Result.APPROVED, raised.message
    assert balance(term) == opening - eur("120.00")
    captured = await act(engine, "capture", held.id, "110.00", tip="8.00")
    assert captured.result is Result.APPROVED, captured.message
    assert captured.amount == eur("118.00")
    charges = [e for e in term.ledger() if e["type"] == "capture"]
    assert [(e["ref"], e["amount"]) for e in charges] == [
        (held.id, {"value": 11800, "currency": "EUR"})
    ]
    holds = term.sim.holds(term.terminal_id)
    assert [(h["id"], h["state"]) for h in holds] == [(held.id, "captured")]
    assert not [h for h in holds if h["state"] == "held"]
    assert balance(term) == opening - eur("118.00")
    view = engine.transaction(held.id).to_json()
    assert view["state"] == "captured"
    assert view["held"] == {"value": 12000, "currency": "EUR"}
    assert view["captured"] == {"value": 11800, "currency": "EUR"}
    assert engine.open_holds() == []


async def test_capture_above_the_tolerance_is_declined_and_the_hold_stays(
    tab: tuple[Terminal, Engine],
) -> None:
    _, engine = tab
    held = await hold(engine, "100.00")
    too_much = await act(engine, "capture", held.id, "120.01")
    assert too_much.result is Result.DECLINED
    assert too_much.code == "13" and "tolerance" in too_much.message
    assert engine.transaction(held.id).state == "held"
    within = await act(engine, "capture", held.id, "120.00")
    assert within.result is Result.APPROVED, within.message


async def test_expired_hold_cannot_be_captured(tab: tuple[Terminal, Engine]) -> None:
    term, engine = tab
    opening = balance(term)
    term.sim.hold_rules(expiry_s=0.5)
    try:
        held = await hold(engine, "60.00")
        assert held.result is Result.APPROVED
        await asyncio.sleep(1.0)
        late = await act(engine, "capture", held.id, "60.00")
    finally:
        term.sim.hold_rules()
    assert late.result is Result.DECLINED
    assert "expired" in late.message
    assert engine.transaction(held.id).state == "expired"
    assert balance(term) == opening  # the expired hold went back to the card
    assert not [e for e in term.ledger() if e["type"] == "capture" and e["result"] == "approved"]


async def test_cancel_releases_the_hold(tab: tuple[Terminal, Engine]) -> None:
    term, engine = tab
    opening = balance(term)
    held = await hold(engine, "75.00")
    released = await act(engine, "preauth_cancel", held.id)
    assert released.result is Result.APPROVED, released.message
    assert engine.transaction(held.id).state == "released"
    assert balance(term) == opening
    assert [h["state"] for h in term.sim.holds(term.terminal_id)] == ["released"]


async def test_issuer_that_refuses_preauthorisations(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    engine = term.engine(TappedCard("debit-no-preauth"))
    await engine.start()
    try:
        refused = await hold(engine, "20.00")
        sale = await engine.sale(SaleRequest(eur("20.00")), Steps(), asyncio.Event())
    finally:
        await engine.stop()
    assert refused.result is Result.DECLINED and refused.code == "57"
    assert sale.result is Result.APPROVED  # the same card still pays sales


async def test_no_preauthorisation_offline(tab: tuple[Terminal, Engine]) -> None:
    term, engine = tab
    term.sim.faults(down=True)
    refused = await hold(engine, "30.00")
    assert refused.result is Result.DECLINED
    assert "never approved offline" in refused.message
    assert engine.queue_status().count == 0


async def test_capture_while_the_bank_is_down_queues_and_is_sent_once(
    tab: tuple[Terminal, Engine],
) -> None:
    term, engine = tab
    held = await hold(engine, "40.00")
    term.sim.faults(down=True)
    queued = await act(engine, "capture", held.id, "40.00", tip="2.00")
    assert queued.result is Result.APPROVED_OFFLINE
    assert "stored" in queued.message
    assert engine.queue_status().count == 1
    term.sim.faults()
    report = await engine.flush(deadline_s=5.0)
    assert report.left == 0
    assert engine.transaction(held.id).state == "captured"
    assert engine.transaction(queued.id).state == "approved"
    charges = [e for e in term.ledger() if e["type"] == "capture"]
    assert [e["amount"]["value"] for e in charges] == [4200]


async def test_unknown_id_is_refused(tab: tuple[Terminal, Engine]) -> None:
    _, engine = tab
    for kind in ("increment", "capture", "preauth_cancel"):
        with pytest.raises(UnknownTransaction):
            await engine.check_hold(kind, "no-such-id", eur("10.00"))


async def test_bad_requests_are_refused_before_anything_is_sent(
    tab: tuple[Terminal, Engine],
) -> None:
    term, engine = tab
    held = await hold(engine, "50.00")
    before = term.ledger()
    with pytest.raises(HoldNotAllowed, match="cannot be negative"):
        await engine.check_hold("capture", held.id, eur("50.00"), Amount.of(-100, "EUR"))
    with pytest.raises(HoldNotAllowed, match="in EUR"):
        await engine.check_hold("capture", held.id, Amount.parse("50.00", "USD"))
    captured = await act(engine, "capture", held.id)
    assert captured.result is Result.APPROVED
    after_capture = term.ledger()
    with pytest.raises(HoldNotAllowed, match="is captured"):
        await engine.check_hold("increment", held.id, eur("5.00"))
    assert term.ledger() == after_capture
    assert len(after_capture) == len(before) + 1
