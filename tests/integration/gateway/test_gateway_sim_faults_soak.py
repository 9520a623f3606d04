"""Random network faults never make money appear or vanish: whatever the terminal was told, after
reversing every unknown outcome the card is charged exactly for the sales it saw approved."""

from __future__ import annotations

from typing import Any

import pytest

from terminal.gateway.errors import NothingSent, OutcomeUnknown
from tests.fixtures.gateway_sim import GatewaySim
from tests.fixtures.gateway_terminal import TestTerminal, new_card

START = 500000


async def reverse_until_acknowledged(terminal: TestTerminal, ref: str) -> None:
    """Rule 3: the reversal is kept and forwarded (same bytes) until the gateway answers."""
    message = terminal.message("reverse", ref=ref)
    for _ in range(200):
        try:
            answer = await terminal.send(message, deadline_s=1.0)
        except (OutcomeUnknown, NothingSent):
            continue
        assert answer.result == "reversed"
        return
    raise AssertionError("reversal never acknowledged")


async def run_sales(sim: GatewaySim, terminal: TestTerminal, count: int) -> None:
    card = new_card(sim, balance="5000.00")
    approved: dict[str, int] = {}
    reversed_ids: set[str] = set()
    sim.faults(drop_before=0.2, drop_after=0.2, error_5xx=0.1)
    try:
        for n in range(count):
            value = 100 + n
            sale = terminal.card_sale(card, value)
            try:
                answer = await terminal.send(sale, deadline_s=0.4)
            except OutcomeUnknown:
                await reverse_until_acknowledged(terminal, sale[0])
                reversed_ids.add(sale[0])
                continue
            assert answer.approved
            approved[sale[0]] = value
    finally:
        sim.faults()
    entries = sim.ledger(terminal.terminal_id)
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "an id was booked twice"
    sales = {e["id"]: e for e in entries if e["type"] == "authorize"}
    assert set(approved) <= set(sales)  # every approval the terminal saw is booked
    undone = {e["ref"] for e in entries if e["type"] == "reverse"}
    assert undone <= reversed_ids and undone <= set(sales)
    assert sim.card(card)["balance"]["value"] == START - sum(approved.values())


async def test_random_faults_never_charge_twice_or_lose_a_sale(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    await run_sales(gateway_sim_module, make_terminal(gateway_sim_module, "SOAK0001"), 15)


@pytest.mark.slow
async def test_random_faults_soak(gateway_sim_module: GatewaySim, make_terminal: Any) -> None:
    await run_sales(gateway_sim_module, make_terminal(gateway_sim_module, "SOAK0002"), 400)
