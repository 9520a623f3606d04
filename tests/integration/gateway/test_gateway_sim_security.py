"""The simulator's own security findings, each reproduced as an attack that now fails:
stored card data replayed under a new message id, a readable ledger with plain PAN hashes, and
an admin API anyone could call (on the protocol port, without a token)."""

from __future__ import annotations

import hashlib
import stat
from typing import Any

import httpx

from simulators.card.tap import CARDS
from simulators.card.tap import wire_card_data as card_data
from terminal.money import Amount
from terminal.security.pan import mask_pan
from tests.fixtures.gateway_sim import GatewaySim
from tests.fixtures.gateway_terminal import new_card


async def test_replayed_card_data_under_a_new_id_is_declined(
    gateway_sim_module: GatewaySim, make_terminal: Any
) -> None:
    sim = gateway_sim_module
    terminal = make_terminal(sim, terminal_id="REPLAY01")
    name = new_card(sim)
    card, amount = CARDS[name], Amount.of(900, "EUR")
    sealed = terminal.keys.encrypt(card_data(card, amount))  # one tap: one ATC, one ARQC

    def authorize() -> tuple[str, bytes]:
        return terminal.message(
            "authorize",
            amount=amount,
            entry="nfc",
            card={
                "scheme": card.scheme,
                "aid": card.aid,
                "masked_pan": mask_pan(card.pan),
                "data": sealed,
            },
        )

    first = await terminal.send(authorize())
    assert (first.result, first.code) == ("approved", "00")
    replay = await terminal.send(authorize())  # same card data, fresh message id
    assert (replay.result, replay.code) == ("declined", "05")
    assert replay.reason == "replayed cryptogram (ATC 1 already used)"
    assert sim.card(name)["balance"]["value"] == 500000 - 900, "charged once"
    assert (await terminal.pay(name, 900)).approved, "a new tap is a new cryptogram"


def test_the_ledger_is_private_and_holds_no_plain_pan_hash(gateway_sim_module: GatewaySim) -> None:
    sim = gateway_sim_module
    ledger = sim.data_dir / "ledger.sqlite"
    key = sim.data_dir / "private" / "pan-fingerprint.key"
    for path in (ledger, key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    pan = CARDS["visa-credit"].pan
    on_disk = b"".join(
        part.read_bytes() for part in sim.data_dir.glob("ledger.sqlite*") if part.suffix != ".tmp"
    )
    assert sim.card("visa-credit")["masked_pan"] == mask_pan(pan)  # the card is in the books
    assert hashlib.sha256(pan.encode()).hexdigest().encode() not in on_disk
    assert pan.encode() not in on_disk


def test_the_admin_api_needs_its_token_and_its_own_port(gateway_sim_module: GatewaySim) -> None:
    sim = gateway_sim_module
    verify = sim.tls()
    anonymous = httpx.get(f"{sim.admin_url}/sim/ledger", verify=verify, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized"
    wrong = httpx.post(
        f"{sim.admin_url}/sim/faults",
        json={"down": True},
        headers={"Authorization": "Bearer not-the-token"},
        verify=verify,
        timeout=5,
    )
    assert wrong.status_code == 401
    token = {"Authorization": f"Bearer {sim.admin_token}"}
    on_protocol_port = httpx.get(f"{sim.url}/sim/ledger", headers=token, verify=verify, timeout=5)
    assert on_protocol_port.status_code == 404
    assert httpx.get(f"{sim.url}/v1/health", verify=verify, timeout=5).status_code == 200
    assert sim.faults()["down"] is False  # nothing the refused calls asked for happened
    token_file = sim.data_dir / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
