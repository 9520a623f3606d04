"""`kill -9` of the terminal at every step of a sale, then a restart: every sale ends in a
definite state, and the simulator's ledger and the journal agree that nothing was charged
twice. A quick loop runs in `make test`, the long one in `make soak`."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from payment_terminal import REPO, Terminal

from terminal.money import Amount
from terminal.payment.journal import Journal
from terminal.payment.states import State

SCRIPT = Path(__file__).with_name("terminal_process.py")
STEPS = ["checking", "waiting_for_card", "reading_card", "card_read", "authorising", "result"]
DEFINITE = {State.APPROVED, State.DECLINED, State.REVERSED, State.CANCELLED, State.FAILED}
CARD = "visa-credit"


def spawn(term: Terminal, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(term.config), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def sale_killed_at(term: Terminal, step: str, delay_s: float) -> bool:
    """Run one sale and SIGKILL the process `delay_s` after it reports `step`."""
    process = spawn(term, "sale", "10.00", CARD)
    assert process.stdout is not None
    killed = False
    for line in process.stdout:
        if line.startswith(f"STAGE {step} "):
            time.sleep(delay_s)
            process.send_signal(signal.SIGKILL)
            killed = True
            break
    process.wait(timeout=30)
    process.stdout.close()
    return killed


def recover(term: Terminal) -> None:
    """The restart: a new engine on the same journal recovers and forwards what it queued."""

    async def restart() -> int:
        engine = term.engine()
        await engine.start(forward=False)
        try:
            report = await engine.flush(deadline_s=5.0)
        finally:
            await engine.stop()
        return report.left

    assert asyncio.run(restart()) == 0


def balance(term: Terminal) -> Amount:
    return Amount.from_json(term.sim.card(CARD)["balance"])


def assert_journal_and_ledger_agree(term: Terminal, opening: Amount) -> None:
    journal = Journal.open(term.settings.data_dir)
    try:
        sales = journal.find("type = 'sale'")
    finally:
        journal.close()
    ledger = term.ledger()
    charges = {e["id"]: e for e in ledger if e["type"] == "authorize"}
    reversed_refs = [e["ref"] for e in ledger if e["type"] == "reverse"]
    assert len(charges) == len([e for e in ledger if e["type"] == "authorize"])
    charged = Amount.zero("EUR")
    for sale in sales:
        assert sale.state in DEFINITE, (sale.id, sale.state)
        booked = sale.id in charges
        undone = sale.id in reversed_refs
        if sale.state is State.APPROVED:
            assert booked and not undone, sale.id
            charged = charged + sale.amount
        elif sale.state is State.REVERSED:
            assert not booked or undone, sale.id
        else:
            assert not booked, (sale.id, sale.state)
    assert set(charges) <= {s.id for s in sales}, "the bank booked a sale the journal lacks"
    assert balance(term) == opening - charged


def crash_loop(
    term: Terminal, rounds: int, rng: random.Random, delays_ms: tuple[int, ...] = (0, 50, 250)
) -> int:
    opening = balance(term)
    kills = 0
    for n in range(rounds):
        step = STEPS[n % len(STEPS)]
        delay_ms = rng.choice(delays_ms) if step == "authorising" else 0
        term.sim.faults(delay_ms=delay_ms)
        kills += sale_killed_at(term, step, rng.uniform(0, 0.03))
        term.sim.faults()
        recover(term)
        assert_journal_and_ledger_agree(term, opening)
    return kills


def test_kill_at_every_step_then_restart_leaves_definite_states(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal()
    kills = crash_loop(term, len(STEPS), random.Random(4), delays_ms=(300,))
    assert kills >= len(STEPS) - 1  # "result" may come as the process exits
    journal = Journal.open(term.settings.data_dir)
    try:
        states = sorted(t.state.value for t in journal.find("type = 'sale'"))
    finally:
        journal.close()
    # Killed while the bank held its answer: booked, then reversed on restart.
    assert "reversed" in states, states
    assert "approved" in states and "cancelled" in states, states


@pytest.mark.slow
def test_kill_loop_soak(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    rounds = int(os.environ.get("POSTERM_SOAK_KILLS", "240"))
    kills = crash_loop(term, rounds, random.Random(rounds))
    assert kills >= rounds * (len(STEPS) - 1) // len(STEPS)
