"""`kill -9` of a terminal on the ISO 8583 link at every step of a sale, then a restart: every
sale ends in a definite state, and the simulator's card balance moved exactly by the approved
sales (a 0200 whose answer was lost is reversed with 0400/0401, never charged twice)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.bank.local import GatewaySim
from simulators.card.tap import CARDS
from simulators.loopback import free_port
from terminal.money import Amount
from terminal.payment.factory import build_engine
from terminal.payment.journal import Journal
from terminal.payment.states import State
from terminal.settings import load_settings

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "tests" / "integration" / "payment" / "terminal_process.py"
STEPS = ["checking", "waiting_for_card", "reading_card", "card_read", "authorising", "result"]
DEFINITE = {State.APPROVED, State.DECLINED, State.REVERSED, State.CANCELLED, State.FAILED}
CARD = "mastercard-debit"


@pytest.fixture
def sim_and_config(tmp_path: Path) -> Iterator[tuple[GatewaySim, Path]]:
    port = free_port()
    sim = GatewaySim(tmp_path / "sim", extra_args=("--iso8583-listen", f"127.0.0.1:{port}"))
    try:
        sim.cards(name=CARD, balance="1000.00")
        config = sim.terminal_config(
            tmp_path,
            terminal_id="CRASHISO",
            devices={"nfc": "none"},
            gateway={"protocol": "iso8583", "connect_timeout_s": 1.0},
            iso8583={"host": f"127.0.0.1:{port}", "ca_file": str(sim.ca_file), "timeout_s": 2},
        )
        yield sim, config
    finally:
        sim.stop()


def sale_killed_at(config: Path, step: str) -> bool:
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(config), "sale", "10.00", CARD],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    killed = False
    for line in process.stdout:
        if line.startswith(f"STAGE {step} "):
            time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            killed = True
            break
    process.wait(timeout=30)
    process.stdout.close()
    return killed


def recover(config: Path) -> int:
    async def restart() -> int:
        engine = build_engine(load_settings(config, environ={}))
        await engine.start(forward=False)
        try:
            report = await engine.flush(deadline_s=5.0)
        finally:
            await engine.stop()
        return report.left

    return asyncio.run(restart())


def test_kill_at_every_step_then_restart_moves_money_at_most_once(
    sim_and_config: tuple[GatewaySim, Path],
) -> None:
    sim, config = sim_and_config
    opening = Amount.from_json(sim.card(CARD)["balance"])
    kills = 0
    for step in STEPS:
        sim.faults(delay_ms=300 if step == "authorising" else 0)
        kills += sale_killed_at(config, step)
        sim.faults()
        assert recover(config) == 0
    assert kills >= len(STEPS) - 1
    data_dir = load_settings(config, environ={}).data_dir
    journal = Journal.open(data_dir)
    try:
        sales = journal.find("type = 'sale'")
    finally:
        journal.close()
    assert all(sale.state in DEFINITE for sale in sales), [s.state for s in sales]
    approved = [s for s in sales if s.state is State.APPROVED]
    charged = sum((s.amount for s in approved), Amount.zero("EUR"))
    assert Amount.from_json(sim.card(CARD)["balance"]) == opening - charged
    states = {s.state for s in sales}
    assert State.REVERSED in states and State.CANCELLED in states, states
    for path in data_dir.rglob("*"):  # the sealed requests never hold the PAN in clear
        if path.is_file():
            assert CARDS[CARD].pan.encode() not in path.read_bytes(), path
