"""`kill -9` of the terminal while it captures a pre-authorisation, before and after the capture
left it, then a restart: the hold is captured exactly once, in the bank's ledger and the journal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from payment_terminal import REPO, Steps, Terminal

from simulators.card.tap import TappedCard
from terminal.money import Amount
from terminal.payment.api import Result, SaleRequest
from terminal.payment.journal import Journal
from terminal.payment.states import State

SCRIPT = Path(__file__).with_name("hold_process.py")


def open_hold(term: Terminal, amount: str) -> str:
    async def run() -> str:
        engine = term.engine(TappedCard("wallet-token"))
        await engine.start(forward=False)
        try:
            outcome = await engine.preauth(
                SaleRequest(Amount.parse(amount, "EUR")), Steps(), asyncio.Event()
            )
        finally:
            await engine.stop()
        assert outcome.result is Result.APPROVED, outcome.message
        return outcome.id

    return asyncio.run(run())


def capture_killed(term: Terminal, hold_id: str, after_s: float) -> bool:
    """Start a capture of 110.00 + 8.00 tip and SIGKILL it `after_s` after its message was
    committed to the queue (the "authorising" step comes just before it is sent)."""
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(term.config), "capture", hold_id, "110.00", "8.00"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    killed = False
    for line in process.stdout:
        if line.startswith("STAGE authorising "):
            time.sleep(after_s)
            process.send_signal(signal.SIGKILL)
            killed = True
            break
    process.wait(timeout=30)
    process.stdout.close()
    return killed


def restart(term: Terminal) -> int:
    async def run() -> int:
        engine = term.engine()
        await engine.start(forward=False)
        try:
            report = await engine.flush(deadline_s=5.0)
        finally:
            await engine.stop()
        return report.left

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("delay_ms", "after_s"),
    [(0, 0.0), (3000, 0.4)],
    ids=["killed-as-it-is-sent", "killed-after-the-bank-booked-it"],
)
def test_kill_during_capture_then_restart_captures_exactly_once(
    terminal: Callable[..., Terminal], delay_ms: int, after_s: float
) -> None:
    term = terminal()
    hold_id = open_hold(term, "120.00")
    # With a delay the bank books the capture and answers after the terminal's 2 s timeout:
    # whenever the kill lands, the terminal never recorded an answer.
    term.sim.faults(delay_ms=delay_ms)
    try:
        assert capture_killed(term, hold_id, after_s)
    finally:
        term.sim.faults()
    journal = Journal.open(term.settings.data_dir)
    try:
        killed = [t.state for t in journal.find("type = 'capture'")]
    finally:
        journal.close()
    if delay_ms:  # the bank booked it; the answer never recorded: the restart re-sends it
        assert killed == [State.SUBMITTED]
        assert [e["type"] for e in term.ledger()].count("capture") == 1
    else:  # killed as it was sent (on a loaded machine the answer may just have been recorded)
        assert killed in ([State.SUBMITTED], [State.APPROVED])
    assert restart(term) == 0
    captures = [e for e in term.ledger() if e["type"] == "capture"]
    assert [(e["ref"], e["amount"]["value"]) for e in captures] == [(hold_id, 11800)]
    assert [h["state"] for h in term.sim.holds(term.terminal_id)] == ["captured"]
    journal = Journal.open(term.settings.data_dir)
    try:
        hold = journal.get(hold_id)
        attempts = journal.find("type = 'capture'")
    finally:
        journal.close()
    assert hold.state is State.CAPTURED
    assert hold.captured == Amount.parse("118.00", "EUR")
    assert [(t.id, t.state) for t in attempts] == [(captures[0]["id"], State.APPROVED)]


def test_kill_after_a_preauthorisation_was_sent_then_restart_releases_the_hold(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal()
    opening = term.sim.card("wallet-token")["balance"]
    term.sim.faults(delay_ms=3000)  # the bank holds the amount; no answer within 2 s
    try:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(term.config), "preauth", "80.00", "wallet-token"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        hold_id = ""
        for line in process.stdout:
            if line.startswith("STAGE authorising "):
                hold_id = line.split()[2]
                time.sleep(0.4)
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=30)
        process.stdout.close()
    finally:
        term.sim.faults()
    assert hold_id
    assert [h["state"] for h in term.sim.holds(term.terminal_id)] == ["held"]
    assert restart(term) == 0  # recovery queues the reversal, the flush sends it
    assert [h["state"] for h in term.sim.holds(term.terminal_id)] == ["reversed"]
    assert term.sim.card("wallet-token")["balance"] == opening
    journal = Journal.open(term.settings.data_dir)
    try:
        assert journal.get(hold_id).state is State.REVERSED
    finally:
        journal.close()
