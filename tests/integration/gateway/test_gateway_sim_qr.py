"""QR payments both ways against the real simulator: intents paid by the wallet, one-time codes."""

from __future__ import annotations

import asyncio
import base64
import binascii
from pathlib import Path
from typing import Any

from terminal.money import Amount
from tests.fixtures.gateway_sim import GatewaySim
from tests.fixtures.gateway_terminal import TestTerminal


def field(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def mpm_payload(intent_id: str, amount: str) -> str:
    """The EMVCo merchant-presented payload a terminal shows (dynamic, 62/05 = intent id)."""
    body = (
        field("00", "01")
        + field("01", "12")
        + field("26", field("00", "org.posterm.sim") + field("01", "MERCHANT0000001"))
        + field("52", "5999")
        + field("53", "978")
        + field("54", amount)
        + field("58", "DE")
        + field("59", "POSTERM DEMO SHOP")
        + field("60", "BERLIN")
        + field("62", field("05", intent_id) + field("07", "QRTEST01"))
        + "6304"
    )
    return body + f"{binascii.crc_hqx(body.encode(), 0xFFFF):04X}"


async def intent(terminal: TestTerminal, value: int) -> Any:
    return await terminal.send(terminal.message("qr_intent", amount=Amount.of(value, "EUR")))


async def test_wallet_pays_the_code_the_terminal_shows(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="QRTEST01")
    created = await intent(terminal, 2372)
    assert (created.result, created.type) == ("pending", "qr_intent")
    assert 0 < len(created.intent_id) <= 25  # fits reference label 62/05
    assert created.expires_at is not None
    waiting = await terminal.act("qr_status", created.intent_id)
    assert waiting.result == "pending"
    before = sim.card("wallet-token")["balance"]["value"]
    paid = sim.wallet_pay(payload=mpm_payload(created.intent_id, "23.72"))
    assert (paid["result"], paid["code"]) == ("approved", "00")
    status = await terminal.act("qr_status", created.intent_id)
    assert (status.result, status.code, status.auth_code) == ("approved", "00", paid["auth_code"])
    assert sim.card("wallet-token")["balance"]["value"] == before - 2372
    assert [(e["id"], e["type"], e["ref"]) for e in sim.ledger("QRTEST01")] == [
        (created.id, "qr_intent", created.intent_id)
    ]
    refund = await terminal.act("refund", created.intent_id, 372)
    assert refund.approved
    assert sim.card("wallet-token")["balance"]["value"] == before - 2000


async def test_payload_with_another_amount_is_not_paid(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="QRTEST02")
    created = await intent(terminal, 1000)
    response = sim.admin.post(
        "/sim/wallet/pay", json={"payload": mpm_payload(created.intent_id, "1.00")}
    )
    assert (response.status_code, response.json()["error"]) == (409, "conflict")
    bad_crc = mpm_payload(created.intent_id, "10.00")[:-4] + "0000"
    assert sim.admin.post("/sim/wallet/pay", json={"payload": bad_crc}).status_code == 400
    assert (await terminal.act("qr_status", created.intent_id)).result == "pending"


async def test_cancelled_code_cannot_be_paid(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="QRTEST03")
    created = await intent(terminal, 500)
    void = await terminal.act("void", created.intent_id)
    assert void.approved
    status = await terminal.act("qr_status", created.intent_id)
    assert status.result == "declined"
    response = sim.admin.post("/sim/wallet/pay", json={"intent_id": created.intent_id})
    assert response.status_code == 409
    assert sim.ledger("QRTEST03") == []


async def test_unpaid_code_expires(tmp_path: Path, make_terminal: Any) -> None:
    sim = GatewaySim(tmp_path / "sim", extra_args=("--intent-ttl", "0.2"))
    try:
        terminal = make_terminal(sim, terminal_id="QRTEST04")
        created = await intent(terminal, 500)
        await asyncio.sleep(0.4)
        status = await terminal.act("qr_status", created.intent_id)
        assert status.result == "expired"
        assert (
            sim.admin.post("/sim/wallet/pay", json={"intent_id": created.intent_id}).status_code
            == 409
        )
    finally:
        sim.stop()


async def test_one_time_customer_code_pays_once(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="QRTEST05")
    issued = sim.wallet_code("wallet-token")
    tlv = base64.b64decode(issued["code"])
    assert tlv.startswith(bytes.fromhex("8505") + b"CPV01")
    assert issued["masked_pan"].startswith("489537")

    def scan(text: str) -> tuple[str, bytes]:
        return terminal.message(
            "authorize",
            amount=Amount.of(1500, "EUR"),
            entry="qr_cpm",
            qr={"data": terminal.keys.encrypt_text(text)},
        )

    first = await terminal.send(scan(issued["code"]))
    assert (first.result, first.code) == ("approved", "00")
    again = await terminal.send(scan(issued["code"]))
    assert (again.result, again.code) == ("declined", "65")
    unknown = await terminal.send(scan("hQVDUFYwMQ=="))
    assert (unknown.result, unknown.code) == ("declined", "14")
    assert [(e["type"], e["amount"]["value"]) for e in sim.ledger("QRTEST05")] == [
        ("authorize", 1500)
    ]


async def test_wallet_pays_the_payload_the_qr_module_builds(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    from terminal.qr.terminal_code import intent_payload

    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="QRTEST06")
    created = await intent(terminal, 1999)
    shown = intent_payload(terminal.settings, Amount.of(1999, "EUR"), created.intent_id)
    assert sim.wallet_pay(payload=shown)["result"] == "approved"
    assert (await terminal.act("qr_status", created.intent_id)).result == "approved"


async def test_the_qr_module_reads_the_wallet_one_time_code(gateway_sim_module: GatewaySim) -> None:
    from terminal.qr.cpm import parse_consumer_code

    issued = gateway_sim_module.wallet_code("wallet-token")
    parsed = parse_consumer_code(issued["code"])
    assert parsed.applications[0].aid == "A0000000031010"
    assert parsed.applications[0].masked_pan == issued["masked_pan"]
