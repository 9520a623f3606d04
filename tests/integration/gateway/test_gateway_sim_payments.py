"""Card payments against the real simulator process over TLS: approvals, declines, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from terminal.gateway.errors import ProtocolRejected
from terminal.money import Amount
from tests.fixtures.gateway_sim import GatewaySim
from tests.fixtures.gateway_terminal import new_card


async def test_approved_sale_is_booked_once_and_charged(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="PAYS0001")
    card = new_card(sim)
    answer = await terminal.pay(card, 1234)
    assert (answer.result, answer.code) == ("approved", "00")
    assert len(answer.auth_code) == 6
    entries = sim.ledger(terminal.terminal_id)
    assert [(e["id"], e["type"], e["result"], e["amount"]) for e in entries] == [
        (answer.id, "authorize", "approved", {"value": 1234, "currency": "EUR"})
    ]
    assert entries[0]["terminal_id"] == "PAYS0001"
    assert sim.card(card)["balance"]["value"] == 500000 - 1234


@pytest.mark.parametrize(
    ("card", "value", "setup", "options", "code"),
    [
        ("expired", 1000, {}, {}, "54"),
        ("mastercard-debit", 8001, {}, {}, "51"),
        ("blocked", 1000, {}, {}, "05"),
        ("visa-credit", 1000, {"name": "visa-credit", "status": "lost"}, {}, "59"),
        ("visa-credit", 1000, {}, {"pan": "4000000000000002"}, "14"),
        ("visa-credit", 1000, {}, {"tamper": True}, "05"),
        ("visa-credit", 1000, {}, {"signed_amount": Amount.of(100, "EUR")}, "05"),
    ],
    ids=["expired-54", "balance-51", "blocked-05", "lost-59", "unknown-14", "arqc-05", "amount-05"],
)
async def test_issuer_declines_with_the_documented_code(
    gateway_sim_module: GatewaySim,
    make_terminal: Any,
    card: str,
    value: int,
    setup: dict[str, Any],
    options: dict[str, Any],
    code: str,
) -> None:
    sim = gateway_sim_module
    if setup:
        sim.cards(**setup)
    terminal = make_terminal(sim, terminal_id="POSDECL1")
    before = sim.ledger()
    try:
        answer = await terminal.pay(card, value, **options)
    finally:
        if setup:
            sim.cards(name=setup["name"], status="active")
    assert (answer.result, answer.code) == ("declined", code)
    assert answer.reason
    assert sim.ledger() == before


async def test_fraud_rule_declines_the_third_payment_in_the_window(
    gateway_sim: GatewaySim, make_terminal: Any
) -> None:
    terminal = make_terminal(gateway_sim)
    assert (await terminal.pay("visa-credit", 100)).approved
    gateway_sim.fraud(enabled=True, max_count=2, max_total=10_000, window_s=600)
    assert (await terminal.pay("visa-credit", 100)).approved
    third = await terminal.pay("visa-credit", 100)
    assert (third.result, third.code) == ("declined", "59")
    gateway_sim.fraud(enabled=False)
    assert (await terminal.pay("visa-credit", 100)).approved
    assert len(gateway_sim.ledger()) == 3


async def test_fraud_rule_is_off_by_default(gateway_sim: GatewaySim, make_terminal: Any) -> None:
    terminal = make_terminal(gateway_sim)
    for _ in range(6):
        assert (await terminal.pay("wallet-token", 100)).approved
    assert gateway_sim.admin.get("/sim/fraud").json()["enabled"] is False


async def test_retry_of_the_same_message_gets_the_same_answer_and_one_entry(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="PAYS0002")
    card = new_card(sim)
    message = terminal.card_sale(card, 2500)
    first = await terminal.send(message)
    second = await terminal.send(message)
    assert second.raw == first.raw
    assert len(sim.ledger(terminal.terminal_id)) == 1
    assert sim.card(card)["balance"]["value"] == 500000 - 2500


async def test_same_id_with_another_amount_is_a_conflict(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="PAYS0003")
    card = new_card(sim)
    message_id, body = terminal.card_sale(card, 1000)
    await terminal.send((message_id, body))
    _, other = terminal.card_sale(card, 9000, id=message_id)
    with pytest.raises(ProtocolRejected) as refused:
        await terminal.client.send(message_id, other)
    assert (refused.value.status, refused.value.code) == (409, "id_conflict")
    assert [e["amount"]["value"] for e in sim.ledger(terminal.terminal_id)] == [1000]


async def test_replayed_old_message_is_stale(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="PAYS0004")
    old = terminal.message(
        "reverse",
        ref="f47ac10b-58cc-4372-a567-0e02b2c3d479",
        created_at=datetime.now(UTC) - timedelta(days=8),
    )
    with pytest.raises(ProtocolRejected) as refused:
        await terminal.send(old)
    assert (refused.value.status, refused.value.code) == (422, "stale")
    future = terminal.message(
        "reverse",
        ref="f47ac10b-58cc-4372-a567-0e02b2c3d479",
        created_at=datetime.now(UTC) + timedelta(hours=1),
    )
    with pytest.raises(ProtocolRejected, match="stale"):
        await terminal.send(future)


async def test_messages_after_a_key_rotation_and_queued_before_it_both_verify(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="PAYS0005")
    card = new_card(sim)
    queued = terminal.card_sale(card, 100, type="advice")
    new_kid = terminal.keystore.rotate()
    sim.enroll(terminal.terminal_id, terminal.keystore.public_jwks())
    fresh = terminal.card_sale(card, 200)
    assert (await terminal.send(queued)).approved
    assert (await terminal.send(fresh)).approved
    assert new_kid == "PAYS0005-2"


async def test_admin_api_and_data_folder_keep_the_documented_shapes(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    """Independent clients read these by name (issue #3): exact keys, nothing renamed."""
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="SHAP0001")
    answer = await terminal.pay(new_card(sim), 250)
    (entry,) = sim.ledger("SHAP0001")
    assert set(entry) == {
        "id",
        "ref",
        "type",
        "terminal_id",
        "amount",
        "result",
        "code",
        "at",
        "state",
    }
    assert entry["amount"] == {"value": 250, "currency": "EUR"} and entry["id"] == answer.id
    assert (entry["type"], entry["result"], entry["code"]) == ("authorize", "approved", "00")
    assert set(sim.faults()) == {"drop_before", "drop_after", "delay_ms", "error_5xx", "down"}
    for name in ("ca.pem", "gateway-signing.jwk", "gateway-encryption.jwk"):
        assert (sim.data_dir / name).is_file()
    assert set(sim.gateway_section()) >= {"url", "ca_file", "signing_key", "encryption_key"}
    health = sim.admin.get(f"{sim.url}/v1/health")
    assert health.status_code == 200 and set(health.json()) == {"status", "time"}
