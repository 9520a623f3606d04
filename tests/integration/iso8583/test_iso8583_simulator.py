"""Every card flow over ISO 8583 against the simulator's own listener: its issuer rules, ARQC
checks and ledger decide, as they do for the posterm-v1 link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from simulators.bank.faults import Faults
from simulators.bank.iso8583_listener import IsoListener
from simulators.bank.server import Simulator
from simulators.card.tap import TappedCard
from terminal.money import Amount
from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.engine import Engine
from terminal.payment.factory import build_engine
from terminal.payment.states import State
from terminal.settings import load_settings


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[tuple[Simulator, int]]:
    simulator = Simulator(tmp_path / "sim")
    listener = IsoListener(simulator)
    port = await listener.start("127.0.0.1", 0, None)
    yield simulator, port
    await listener.stop()
    simulator.close()


@pytest.fixture
def engine_for(tmp_path: Path, sim: tuple[Simulator, int]) -> Callable[[str], Engine]:
    def make(profile: str = "visa-credit") -> Engine:
        config = tmp_path / "posterm.toml"
        config.write_text(
            f"""
[terminal]
terminal_id = "SIMISO01"
data_dir = "{tmp_path / "data"}"
[gateway]
protocol = "iso8583"
url = ""
[iso8583]
host = "127.0.0.1:{sim[1]}"
tls = false
timeout_s = 2
[devices]
nfc = "none"
""",
            encoding="utf-8",
        )
        return build_engine(load_settings(config, environ={}), card_capture=TappedCard(profile))

    return make


async def sale(engine: Engine, amount: str, profile: str | None = None) -> Outcome:
    if profile:
        engine.card_capture = TappedCard(profile)
    return await engine.sale(
        SaleRequest(Amount.parse(amount, engine.settings.currency)),
        lambda step: None,
        asyncio.Event(),
    )


def ledger(simulator: Simulator) -> list[dict[str, Any]]:
    return list(simulator.ledger.ledger_view("SIMISO01"))


async def test_sale_refund_void_and_batch_over_the_simulators_listener(
    engine_for: Callable[[str], Engine], sim: tuple[Simulator, int]
) -> None:
    simulator, _ = sim
    engine = engine_for("visa-credit")
    await engine.start()
    try:
        approved = await sale(engine, "12.00")
        kept = await sale(engine, "8.00")
        refund = await engine.refund(
            approved.id, Amount.parse("2.00", engine.settings.currency), lambda s: None
        )
        void = await engine.void(kept.id, lambda s: None)
        batch = await engine.close_batch()
    finally:
        await engine.stop()
    assert approved.result is Result.APPROVED, approved.message
    assert refund.result is Result.APPROVED, refund.message
    assert void.result is Result.APPROVED, void.message
    assert batch.result == "balanced", batch.message
    types = [(e["type"], e["amount"]["value"]) for e in ledger(simulator)]
    assert ("authorize", 1200) in types and ("refund", 200) in types


@pytest.mark.parametrize(
    ("profile", "amount", "code"), [("blocked", "3.00", "05"), ("mastercard-debit", "45.00", "51")]
)
async def test_declines_come_from_the_issuer_rules(
    engine_for: Callable[[str], Engine], profile: str, amount: str, code: str
) -> None:
    engine = engine_for(profile)
    await engine.start()
    try:
        if code == "51":  # the debit card holds 80.00: the second 45.00 is over its balance
            assert (await sale(engine, amount)).result is Result.APPROVED
        declined = await sale(engine, amount)
    finally:
        await engine.stop()
    assert declined.result is Result.DECLINED, declined.message
    assert declined.code == code


async def test_a_tampered_cryptogram_is_declined(
    engine_for: Callable[[str], Engine],
) -> None:
    engine = engine_for("visa-credit")
    engine.card_capture = TappedCard("visa-credit", tamper=True)
    await engine.start()
    try:
        declined = await sale(engine, "4.00")
    finally:
        await engine.stop()
    assert declined.result is Result.DECLINED and declined.code == "05"


async def test_dropped_answer_is_reversed_and_money_moves_back(
    engine_for: Callable[[str], Engine], sim: tuple[Simulator, int]
) -> None:
    simulator, _ = sim
    engine = engine_for("visa-credit")
    await engine.start()
    await engine.link_checked()
    try:
        simulator.faults = Faults(drop_after=1.0)
        outcome = await sale(engine, "6.00")
        simulator.faults = Faults()
        await engine.flush()
        state = engine.journal.get(outcome.id).state
    finally:
        await engine.stop()
    assert outcome.result is Result.ERROR and outcome.code == "68"
    assert state is State.REVERSED
    row = simulator.ledger.one(
        "SELECT state FROM entries WHERE type = 'authorize' AND terminal_id = 'SIMISO01'"
    )
    assert row is not None and row["state"] == "reversed"
    assert [e["type"] for e in ledger(simulator)] == ["authorize", "reverse"]


def test_gateway_sim_command_answers_iso8583_next_to_https(tmp_path: Path) -> None:
    import socket
    import struct
    import subprocess
    import sys
    import time

    from independent_host import build, parse

    from simulators.loopback import free_port

    https, iso = free_port(), free_port()
    command = [sys.executable, "-m", "terminal", "gateway-sim", "--listen", f"127.0.0.1:{https}"]
    command += ["--iso8583-listen", f"127.0.0.1:{iso}", "--plain-http", "--data", str(tmp_path)]
    process = subprocess.Popen(
        command,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                connection = socket.create_connection(("127.0.0.1", iso), timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the ISO 8583 listener did not start")
        with connection:
            echo = build("0800", {7: b"1207101112", 11: b"000001", 41: b"SIMISO02", 70: b"301"})
            connection.sendall(struct.pack(">H", len(echo)) + echo)
            (size,) = struct.unpack(">H", connection.recv(2))
            body = b""
            while len(body) < size:
                body += connection.recv(size - len(body))
        answer = parse(body)
        assert answer.mti == "0810"
        assert (answer.text(11), answer.text(39), answer.text(70)) == ("000001", "00", "301")
    finally:
        process.terminate()
        process.wait(timeout=30)
