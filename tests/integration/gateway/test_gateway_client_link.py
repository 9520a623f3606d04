"""The real client against the real simulator: faults, failover, TLS, link state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from terminal.gateway.errors import NothingSent, OutcomeUnknown
from tests.conftest import free_port
from tests.fixtures.gateway_sim import GatewaySim
from tests.fixtures.gateway_terminal import new_card


async def test_gateway_down_means_nothing_sent_and_offline(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LINK0001")
    card = new_card(sim)
    assert await terminal.client.health()
    sim.faults(down=True)
    try:
        with pytest.raises(NothingSent):
            await terminal.pay(card, 100)
        assert not terminal.client.online
        assert not await terminal.client.health()
    finally:
        sim.faults(down=False)
    assert await terminal.client.health()
    assert (await terminal.pay(card, 100)).approved
    assert len(sim.ledger("LINK0001")) == 1


async def test_503s_until_the_deadline_are_an_unknown_outcome_with_nothing_booked(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LINK0002")
    card = new_card(sim)
    sim.faults(error_5xx=1.0)
    try:
        with pytest.raises(OutcomeUnknown):
            await terminal.pay(card, 100, deadline_s=1.0)
    finally:
        sim.faults()
    assert sim.ledger("LINK0002") == []


async def test_slow_answer_is_retried_and_charged_once(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    # timeout_s 3 -> each attempt waits 1 s; the simulator holds the first answer 1.5 s.
    terminal = make_terminal(sim, terminal_id="LINK0003", gateway={"timeout_s": 3.0})
    card = new_card(sim)
    sale = terminal.card_sale(card, 777)
    sim.faults(delay_ms=1500)
    try:
        with pytest.raises(OutcomeUnknown):
            await terminal.send(sale, deadline_s=1.2)
    finally:
        sim.faults()
    answer = await terminal.send(sale)
    assert answer.approved
    assert len(sim.ledger("LINK0003")) == 1
    assert sim.card(card)["balance"]["value"] == 500000 - 777


async def test_dropped_request_is_resent_and_processed(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="LINK0004")
    card = new_card(sim)
    sale = terminal.card_sale(card, 300)
    sim.faults(drop_before=1.0)
    try:
        with pytest.raises(OutcomeUnknown):
            await terminal.send(sale, deadline_s=0.8)
    finally:
        sim.faults()
    assert sim.ledger("LINK0004") == []
    assert (await terminal.send(sale)).approved


async def test_unreachable_primary_fails_over_to_the_secondary(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(
        sim,
        terminal_id="LINK0005",
        gateway={"url": f"https://127.0.0.1:{free_port()}", "secondary_url": sim.url},
    )
    assert (await terminal.pay(new_card(sim), 100)).approved


async def test_a_gateway_with_another_ca_is_never_sent_anything(
    gateway_sim_module: GatewaySim, make_terminal: Any, tmp_path: Path
) -> None:
    sim = gateway_sim_module
    other = GatewaySim(tmp_path / "other-sim")
    try:
        terminal = make_terminal(
            sim, terminal_id="LINK0006", gateway={"ca_file": str(other.ca_file)}
        )
        with pytest.raises(NothingSent):
            await terminal.pay(new_card(sim), 100)
    finally:
        other.stop()
    assert sim.ledger("LINK0006") == []
