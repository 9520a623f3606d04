"""`posterm tip`, `posterm cash` and `posterm pay --split-of` from the command line: exit codes,
one JSON object on stdout, nothing sent for a refusal."""

from __future__ import annotations

import json
from collections.abc import Callable

from payment_terminal import Terminal, pay

from simulators.bank.local import new_card
from simulators.card.tap import TappedCard
from terminal.payment.api import Result


async def test_tip_from_the_command_line(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    engine = term.engine(TappedCard("visa-credit"))
    await engine.start(forward=False)
    try:
        sale = await pay(engine, "40.00")
        assert sale.result is Result.APPROVED
    finally:
        await engine.stop()
    before = term.ledger()
    for amount, words in (("-1.00", "cannot be negative"), ("10.01", "above the maximum")):
        refused = term.cli("tip", sale.id, "--amount", amount, "--json")
        assert refused.returncode == 2, refused.stderr
        assert words in json.loads(refused.stdout)["message"]
    unknown = term.cli("tip", "2b0c5a56-0000-4000-8000-000000000000", "--amount", "1.00")
    assert unknown.returncode == 2
    assert "No transaction" in unknown.stderr
    assert term.ledger() == before
    done = term.cli("tip", sale.id, "--amount", "6.00", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["result"] == "approved"
    assert body["amount"] == {"value": 4600, "currency": "EUR"}
    history = json.loads(term.cli("history", "--json").stdout)
    row = next(r for r in history if r["id"] == sale.id)
    assert row["amount"]["value"] == 4600 and row["tip"] == {"value": 600, "currency": "EUR"}
    closed = term.cli("close-batch", "--json", timeout=90)
    assert closed.returncode == 0, closed.stdout
    after = term.cli("tip", sale.id, "--amount", "5.00", "--json")
    assert after.returncode == 2
    assert "is closed" in json.loads(after.stdout)["message"]


async def test_cash_pays_what_the_card_left(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    prepaid = new_card(term.sim, "30.00", like="prepaid")
    engine = term.engine(TappedCard(prepaid))
    await engine.start(forward=False)
    try:
        first = await pay(engine, "50.00", allow_partial=True)
        assert first.remaining_amount is not None and first.remaining_amount.minor == 2000
    finally:
        await engine.stop()
    too_much = term.cli("cash", first.id, "--amount", "25.00", "--json")
    assert too_much.returncode == 2
    assert "Only EUR 20.00 is left" in json.loads(too_much.stdout)["message"]
    cash = term.cli("cash", first.id, "--json")
    assert cash.returncode == 0, cash.stderr
    body = json.loads(cash.stdout)
    assert body["amount"] == {"value": 2000, "currency": "EUR"}
    assert body["remaining_amount"] == {"value": 0, "currency": "EUR"}
    split = term.cli("pay", "--amount", "1.00", "--split-of", first.id, "--json")
    assert split.returncode == 2
    assert "Only EUR 0.00 is left" in json.loads(split.stdout)["message"]
