"""Pre-authorisations against the real simulator process over TLS, message by message: the
hold and the available balance, tolerance, expiry, released holds, reversals, idempotency."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from terminal.money import Amount
from tests.fixtures.gateway_sim import GatewaySim
from tests.fixtures.gateway_terminal import new_card


def eur(minor: int) -> Amount:
    return Amount.of(minor, "EUR")


def balance(sim: GatewaySim, card: str) -> int:
    return int(sim.card(card)["balance"]["value"])


def hold_of(sim: GatewaySim, hold_id: str) -> dict[str, Any]:
    [hold] = [h for h in sim.holds() if h["id"] == hold_id]
    return hold


async def test_a_hold_reduces_the_balance_and_a_capture_charges_once(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim, terminal = gateway_sim_module, make_terminal(gateway_sim_module, terminal_id="HOLD0001")
    card = new_card(sim, "500.00")
    held = await terminal.send(terminal.card_sale(card, 40000, type="preauth"))
    assert (held.result, held.code) == ("approved", "00")
    assert held.expires_at is not None and held.payload["held"] == {
        "value": 40000,
        "currency": "EUR",
    }
    assert balance(sim, card) == 10000
    too_much = await terminal.pay(card, 20000)  # the hold is not available to a sale
    assert (too_much.result, too_much.code) == ("declined", "51")
    capture = terminal.message("capture", ref=held.id, amount=eur(35000), tip=eur(2000))
    first = await terminal.send(capture)
    again = await terminal.send(capture)  # the same id again: the stored answer
    assert first.result == again.result == "approved" and first.raw == again.raw
    assert balance(sim, card) == 15000
    assert hold_of(sim, held.id)["state"] == "captured"
    assert [e["type"] for e in sim.ledger("HOLD0001")].count("capture") == 1


async def test_tolerance_expiry_and_released_holds(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim, terminal = gateway_sim_module, make_terminal(gateway_sim_module, terminal_id="HOLD0002")
    card = new_card(sim, "500.00")
    held = await terminal.send(terminal.card_sale(card, 10000, type="preauth"))
    above = await terminal.act("capture", held.id, 12001)
    assert (above.result, above.code) == ("declined", "13")
    released = await terminal.act("preauth_cancel", held.id)
    assert released.result == "approved" and balance(sim, card) == 50000
    late = await terminal.act("capture", held.id, 10000)
    assert (late.result, late.code) == ("declined", "12")
    sim.hold_rules(expiry_s=0.3)
    try:
        short = await terminal.send(terminal.card_sale(card, 5000, type="preauth"))
        await asyncio.sleep(0.6)
        assert balance(sim, card) == 50000  # the expired hold went back to the card
        expired = await terminal.act("capture", short.id, 5000)
        raised = await terminal.act("increment", short.id, 100)
    finally:
        sim.hold_rules()
    assert (expired.result, expired.code) == ("expired", "12")
    assert raised.result == "expired"
    assert hold_of(sim, short.id)["state"] == "expired"


async def test_reversals_give_back_what_a_hold_or_an_increment_reserved(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim, terminal = gateway_sim_module, make_terminal(gateway_sim_module, terminal_id="HOLD0003")
    card = new_card(sim, "500.00")
    held = await terminal.send(terminal.card_sale(card, 10000, type="preauth"))
    raised = await terminal.act("increment", held.id, 2500)
    assert raised.payload["held"] == {"value": 12500, "currency": "EUR"}
    assert balance(sim, card) == 37500
    undone = await terminal.act("reverse", raised.id)
    assert undone.result == "reversed" and balance(sim, card) == 40000
    assert hold_of(sim, held.id)["held"] == {"value": 10000, "currency": "EUR"}
    await terminal.act("reverse", held.id)
    assert balance(sim, card) == 50000 and hold_of(sim, held.id)["state"] == "reversed"


async def test_the_issuer_that_refuses_holds_still_takes_sales(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim, terminal = gateway_sim_module, make_terminal(gateway_sim_module, terminal_id="HOLD0004")
    refused = await terminal.send(terminal.card_sale("debit-no-preauth", 1000, type="preauth"))
    assert (refused.result, refused.code) == ("declined", "57")
    assert (await terminal.pay("debit-no-preauth", 1000)).result == "approved"
    assert not [h for h in sim.holds("HOLD0004")]


async def test_gateway_sim_flags_set_the_hold_rules(tmp_path: Path, make_terminal: Any) -> None:
    sim = GatewaySim(
        tmp_path / "strict-sim", extra_args=("--capture-tolerance", "0", "--hold-expiry", "3600")
    )
    try:
        assert sim.admin.get("/sim/holds/rules").json() == {
            "expiry_s": 3600.0,
            "tolerance_percent": 0,
        }
        terminal = make_terminal(sim, terminal_id="HOLD0005")
        held = await terminal.send(terminal.card_sale("visa-credit", 1000, type="preauth"))
        above = await terminal.act("capture", held.id, 1001)  # no tolerance: a cent too many
        assert (above.result, above.code) == ("declined", "13")
    finally:
        sim.stop()
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "terminal",
            "gateway-sim",
            "--data",
            str(tmp_path / "x"),
            "--capture-tolerance",
            "101",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "--capture-tolerance" in refused.stderr
