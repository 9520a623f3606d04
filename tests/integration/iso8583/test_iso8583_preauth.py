"""Pre-authorisations over ISO 8583: 0100 hold and increment, 0220 completion with the tip in
F54, 0400 cancel; against the simulator's listener (its issuer rules and ledger) and against
the independent host written from the dialect's table (independent_host.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from independent_host import Host

from simulators.bank.iso8583_listener import IsoListener
from simulators.bank.server import Simulator
from simulators.card.tap import CARDS, TappedCard
from terminal.money import Amount
from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.engine import Engine
from terminal.payment.factory import build_engine
from terminal.payment.holds import HoldKind
from terminal.settings import load_settings

CARD = "wallet-token"


def eur(text: str) -> Amount:
    return Amount.parse(text, "EUR")


async def hold(engine: Engine, amount: str) -> Outcome:
    return await engine.preauth(SaleRequest(eur(amount)), lambda step: None, asyncio.Event())


async def act(
    engine: Engine, kind: HoldKind, hold_id: str, amount: str | None = None, tip: str | None = None
) -> Outcome:
    action = await engine.check_hold(
        kind, hold_id, eur(amount) if amount else None, eur(tip) if tip else None
    )
    return await engine.act_on_hold(action, lambda step: None)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[tuple[Simulator, int]]:
    simulator = Simulator(tmp_path / "sim")
    listener = IsoListener(simulator)
    port = await listener.start("127.0.0.1", 0, None)
    yield simulator, port
    await listener.stop()
    simulator.close()


def engine_on(tmp_path: Path, port: int, terminal_id: str) -> Engine:
    config = tmp_path / f"{terminal_id}.toml"
    config.write_text(
        f"""
[terminal]
terminal_id = "{terminal_id}"
data_dir = "{tmp_path / terminal_id}"
[gateway]
protocol = "iso8583"
url = ""
[iso8583]
host = "127.0.0.1:{port}"
tls = false
timeout_s = 2
[devices]
nfc = "none"
""",
        encoding="utf-8",
    )
    return build_engine(load_settings(config, environ={}), card_capture=TappedCard(CARD))


async def test_hold_raise_capture_with_tip_against_the_simulator(
    tmp_path: Path, sim: tuple[Simulator, int]
) -> None:
    simulator, port = sim
    engine = engine_on(tmp_path, port, "SIMISO02")
    await engine.start()
    try:
        held = await hold(engine, "100.00")
        assert held.result is Result.APPROVED, held.message
        raised = await act(engine, "increment", held.id, "20.00")
        assert raised.result is Result.APPROVED, raised.message
        captured = await act(engine, "capture", held.id, "110.00", tip="8.00")
        assert captured.result is Result.APPROVED, captured.message
        hold_view = engine.transaction(held.id)
    finally:
        await engine.stop()
    assert hold_view.state == "captured" and hold_view.captured == eur("118.00")
    entries = simulator.ledger.ledger_view("SIMISO02")
    assert [(e["type"], e["amount"]["value"]) for e in entries] == [
        ("preauth", 10000),
        ("increment", 2000),
        ("capture", 11800),
    ]
    holds = simulator.processor.holds_view("SIMISO02", datetime.now(UTC))
    assert [(h["state"], h["held"]["value"], h["captured"]["value"]) for h in holds] == [
        ("captured", 12000, 11800)
    ]


async def test_cancel_is_the_reversal_of_the_hold(
    tmp_path: Path, sim: tuple[Simulator, int]
) -> None:
    simulator, port = sim
    engine = engine_on(tmp_path, port, "SIMISO03")
    await engine.start()
    try:
        held = await hold(engine, "60.00")
        released = await act(engine, "preauth_cancel", held.id)
        state = engine.transaction(held.id).state
    finally:
        await engine.stop()
    assert released.result is Result.APPROVED, released.message
    assert state == "released"
    holds = simulator.processor.holds_view("SIMISO03", datetime.now(UTC))
    assert [h["state"] for h in holds] == ["reversed"]  # the bank's word for a released 0100


@pytest.fixture
def host_engine(tmp_path: Path, host: Host) -> Callable[[], Engine]:
    def make() -> Engine:
        return engine_on(tmp_path, host.port, "ISOTERM1")

    return make


async def test_the_independent_host_reads_the_hold_messages_from_the_table(
    host_engine: Callable[[], Engine], host: Host
) -> None:
    engine = host_engine()
    await engine.start()
    try:
        held = await hold(engine, "100.00")
        assert held.result is Result.APPROVED, held.message
        raised = await act(engine, "increment", held.id, "20.00")
        captured = await act(engine, "capture", held.id, "110.00", tip="8.00")
        other = await hold(engine, "30.00")
        released = await act(engine, "preauth_cancel", other.id)
        states = (engine.transaction(held.id).state, engine.transaction(other.id).state)
    finally:
        await engine.stop()
    assert (raised.result, captured.result, released.result) == (Result.APPROVED,) * 3
    assert states == ("captured", "released")
    first, increment, second = [r for r in host.received if r.mti == "0100"]
    assert first.text(25) == "06" and first.text(3) == "000000"
    assert first.text(2) == CARDS[CARD].pan and 55 in first.fields
    assert first.text(4) == "000000010000"
    assert increment.text(25) == "06" and 2 not in increment.fields and 55 not in increment.fields
    assert increment.text(37) == f"RRN{first.text(11)}" and increment.text(4) == "000000002000"
    [completion] = [r for r in host.received if r.mti in ("0220", "0221")]
    assert completion.text(25) == "06" and completion.text(37) == f"RRN{first.text(11)}"
    assert completion.text(4) == "000000011800"
    assert completion.text(54) == "0044978C000000000800"
    [cancel] = [r for r in host.received if r.mti == "0400"]
    assert cancel.text(90)[:10] == "0100" + second.text(11)
    assert host.holds == {}  # captured and released: nothing held any more
    assert ("capture", completion.text(11), 11800) in host.ledger
