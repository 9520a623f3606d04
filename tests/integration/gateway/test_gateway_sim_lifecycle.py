"""Reversals, refunds, voids, advices, batch close and crash recovery against the real simulator."""

from __future__ import annotations

from typing import Any

import pytest

from terminal.gateway.errors import OutcomeUnknown
from tests.fixtures.gateway_sim import GatewaySim
from tests.fixtures.gateway_terminal import new_card

START = 500000  # EUR 5000.00, each test's own card


def balance(sim: GatewaySim, card: str) -> int:
    value: int = sim.card(card)["balance"]["value"]
    return value


async def test_answer_lost_after_booking_is_reversed(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0001")
    card = new_card(sim)
    sale = terminal.card_sale(card, 4200)
    sim.faults(drop_after=1.0)
    try:
        with pytest.raises(OutcomeUnknown) as unknown:
            await terminal.send(sale, deadline_s=1.5)
    finally:
        sim.faults()
    assert unknown.value.attempts >= 2
    # The hardest case: the bank booked it, the terminal never heard. One entry despite retries.
    assert [(e["id"], e["result"]) for e in sim.ledger(terminal.terminal_id)] == [
        (sale[0], "approved")
    ]
    assert balance(sim, card) == START - 4200
    reversal = await terminal.act("reverse", sale[0])
    assert (reversal.result, reversal.code) == ("reversed", "00")
    assert balance(sim, card) == START
    entries = sim.ledger(terminal.terminal_id)
    assert [(e["type"], e["ref"], e["result"]) for e in entries[1:]] == [
        ("reverse", sale[0], "reversed")
    ]
    again = await terminal.act("reverse", sale[0])
    assert again.result == "reversed"
    assert len(sim.ledger(terminal.terminal_id)) == 2
    assert balance(sim, card) == START


async def test_reversal_of_a_message_that_never_arrived_blocks_it_later(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0002")
    card = new_card(sim)
    sale = terminal.card_sale(card, 1500)
    reversal = await terminal.act("reverse", sale[0])
    assert reversal.result == "reversed"
    late = await terminal.send(sale)
    assert (late.result, late.code) == ("declined", "05")
    assert sim.ledger(terminal.terminal_id) == []
    assert balance(sim, card) == START


async def test_refunds_never_exceed_what_was_captured(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0003")
    card = new_card(sim)
    sale = await terminal.pay(card, 5000)
    first = await terminal.act("refund", sale.id, 3000)
    assert (first.result, first.code) == ("approved", "00")
    too_much = await terminal.act("refund", sale.id, 2001)
    assert (too_much.result, too_much.code) == ("declined", "13")
    rest = await terminal.act("refund", sale.id, 2000)
    assert rest.approved
    nothing_left = await terminal.act("refund", sale.id, 1)
    assert nothing_left.code == "13"
    unknown = await terminal.act("refund", "0c7a1cde-9f5c-4b65-9a8e-7f57f4d8b1e1", 100)
    assert (unknown.result, unknown.code) == ("declined", "12")
    assert [(e["type"], e["amount"]["value"]) for e in sim.ledger(terminal.terminal_id)] == [
        ("authorize", 5000),
        ("refund", 3000),
        ("refund", 2000),
    ]
    assert balance(sim, card) == START


async def test_void_gives_the_money_back_and_is_final(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0004")
    card = new_card(sim)
    sale = await terminal.pay(card, 700)
    void = await terminal.act("void", sale.id)
    assert (void.result, void.code) == ("approved", "00")
    assert balance(sim, card) == START
    assert (await terminal.act("void", sale.id)).approved
    refund = await terminal.act("refund", sale.id, 100)
    assert (refund.result, refund.code) == ("declined", "12")
    assert [(e["type"], e["ref"]) for e in sim.ledger(terminal.terminal_id)] == [
        ("authorize", ""),
        ("void", sale.id),
    ]


async def test_void_after_batch_close_is_refused(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0005")
    card = new_card(sim)
    sale = await terminal.pay(card, 700)
    await terminal.send(terminal.message("close_batch", totals={}))
    void = await terminal.act("void", sale.id)
    assert (void.result, void.code) == ("declined", "12")
    assert balance(sim, card) == START - 700


async def test_offline_advice_is_booked_or_declined_by_the_issuer(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0006")
    card = new_card(sim)
    advice = await terminal.send(terminal.card_sale(card, 2000, type="advice"))
    assert (advice.type, advice.result) == ("advice", "approved")
    late_decline = await terminal.send(terminal.card_sale("expired", 2000, type="advice"))
    assert (late_decline.result, late_decline.code) == ("declined", "54")
    assert [(e["type"], e["result"]) for e in sim.ledger(terminal.terminal_id)] == [
        ("advice", "approved")
    ]


async def test_close_batch_balanced_then_out_of_balance(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0007")
    card = new_card(sim)
    first = await terminal.pay(card, 1000)
    await terminal.pay(card, 2500)
    voided = await terminal.pay(card, 999)
    await terminal.act("void", voided.id)
    await terminal.act("refund", first.id, 400)
    totals = {
        "sale": {"EUR": {"count": 2, "total": {"value": 3500, "currency": "EUR"}}},
        "refund": {"EUR": {"count": 1, "total": {"value": 400, "currency": "EUR"}}},
    }
    closed = await terminal.send(terminal.message("close_batch", totals=totals))
    assert (closed.result, closed.code) == ("balanced", "00")
    assert closed.totals == totals
    # New batch: one sale the terminal forgot to count.
    await terminal.pay(card, 100)
    wrong = await terminal.send(terminal.message("close_batch", totals={"sale": {}}))
    assert wrong.result == "out_of_balance"
    assert wrong.totals["sale"] == {"EUR": {"count": 1, "total": {"value": 100, "currency": "EUR"}}}


async def test_unreadable_totals_close_out_of_balance_instead_of_failing(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0010")
    await terminal.pay(new_card(sim), 1000)
    closed = await terminal.send(
        terminal.message("close_batch", totals={"sale": {"EUR": {"count": "one"}}})
    )
    assert (closed.result, closed.code) == ("out_of_balance", "00")
    assert closed.totals["sale"]["EUR"]["count"] == 1


async def test_close_batch_accepts_the_engine_totals_lines(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LIFE0008")
    card = new_card(sim)
    await terminal.pay(card, 1000)
    await terminal.pay("expired", 1000)  # declined: not counted on either side
    lines = {
        "since": None,
        "lines": [
            {
                "type": "sale",
                "entry": "nfc",
                "result": "approved",
                "count": 1,
                "total": {"value": 1000, "currency": "EUR"},
            },
            {
                "type": "sale",
                "entry": "nfc",
                "result": "declined",
                "count": 1,
                "total": {"value": 1000, "currency": "EUR"},
            },
        ],
    }
    closed = await terminal.send(terminal.message("close_batch", totals=lines))
    assert closed.result == "balanced"


async def test_simulator_killed_mid_run_loses_nothing_and_never_charges_twice(
    gateway_sim: GatewaySim, make_terminal: Any
) -> None:
    terminal = make_terminal(gateway_sim)
    card = new_card(gateway_sim)
    sales = [terminal.card_sale(card, 100 + n) for n in range(5)]
    answers = [await terminal.send(sale) for sale in sales[:3]]
    pinned = [
        (gateway_sim.data_dir / name).read_bytes()
        for name in ("ca.pem", "gateway-signing.jwk", "gateway-encryption.jwk")
    ]
    gateway_sim.kill()
    gateway_sim.restart()
    assert pinned == [  # the terminal's pinned CA and keys survive a restart
        (gateway_sim.data_dir / name).read_bytes()
        for name in ("ca.pem", "gateway-signing.jwk", "gateway-encryption.jwk")
    ]
    # The terminal retries everything it is unsure of, with the same bytes.
    again = [await terminal.send(sale) for sale in sales]
    assert [a.raw for a in again[:3]] == [a.raw for a in answers]
    assert all(a.approved for a in again)
    entries = gateway_sim.ledger()
    assert sorted(e["id"] for e in entries) == sorted(sale[0] for sale in sales)
    assert balance(gateway_sim, card) == START - sum(100 + n for n in range(5))


async def test_kill_during_a_burst_then_retry_books_each_sale_exactly_once(
    gateway_sim: GatewaySim, make_terminal: Any
) -> None:
    import asyncio

    terminals = [make_terminal(gateway_sim, terminal_id=f"BURST{n:03d}") for n in range(4)]
    card = new_card(gateway_sim)
    sales = [(t, t.card_sale(card, 100 + i)) for i, t in enumerate(terminals * 5)]

    async def attempt(terminal: Any, sale: tuple[str, bytes]) -> str:
        try:
            return (await terminal.send(sale, deadline_s=1.0)).result
        except Exception as error:  # killed mid-flight: any gateway error is expected here
            return type(error).__name__

    gateway_sim.faults(delay_ms=300)  # answers held back after booking: the hardest case
    burst = asyncio.gather(*(attempt(t, s) for t, s in sales))
    while len(await asyncio.to_thread(gateway_sim.ledger)) < 3:  # some booked, others in flight
        await asyncio.sleep(0.005)
    await asyncio.to_thread(gateway_sim.kill)
    results = await burst
    assert set(results) != {"approved"}, results
    await asyncio.to_thread(gateway_sim.restart)
    answers = [await t.send(s) for t, s in sales]
    assert all(a.approved for a in answers)
    entries = gateway_sim.ledger()
    assert sorted(e["id"] for e in entries) == sorted(s[0] for _, s in sales)
    charged = sum(e["amount"]["value"] for e in entries)
    assert charged == sum(100 + i for i in range(len(sales)))
    assert balance(gateway_sim, card) == START - charged


async def test_every_answer_of_a_concurrent_burst_survives_kill_9(
    gateway_sim: GatewaySim, make_terminal: Any
) -> None:
    """Group commit: messages arriving together share one fsync, and none is answered before
    that fsync; so after kill -9 every answered id is in the books, charged once."""
    import asyncio

    terminals = [make_terminal(gateway_sim, terminal_id=f"GROUP{n:03d}") for n in range(4)]
    card = new_card(gateway_sim)
    sales = [(t, t.card_sale(card, 100 + i)) for i, t in enumerate(terminals * 40)]
    answered: list[str] = []

    async def attempt(terminal: Any, sale: tuple[str, bytes]) -> None:
        try:
            answer = await terminal.send(sale, deadline_s=1.0)
        except Exception:  # killed mid-flight: no answer, outcome unknown to the terminal
            return
        assert answer.approved
        answered.append(sale[0])

    burst = asyncio.gather(*(attempt(t, s) for t, s in sales))
    while len(answered) < 5:
        await asyncio.sleep(0.001)
    # SIGKILL at once, from the loop itself, so the crash lands in the middle of the burst.
    assert gateway_sim.process is not None
    gateway_sim.process.kill()
    await asyncio.to_thread(gateway_sim.kill)
    await burst
    assert len(answered) >= 5
    await asyncio.to_thread(gateway_sim.restart)
    entries = gateway_sim.ledger()
    booked = [e["id"] for e in entries]
    assert set(answered) <= set(booked)
    assert len(booked) == len(set(booked))
    assert balance(gateway_sim, card) == START - sum(e["amount"]["value"] for e in entries)
