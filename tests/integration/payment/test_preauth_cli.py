"""The pre-authorisation commands as a till or a technician runs them, against the simulator:
exit codes, the JSON object, refusals that send nothing, and `history --json`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from payment_terminal import Steps, Terminal

from simulators.card.tap import TappedCard
from terminal.money import Amount
from terminal.payment.api import Result, SaleRequest
from terminal.security.audit import AuditLog

OUTCOME_KEYS = ["id", "result", "code", "auth_code", "amount", "entry", "masked_pan", "message"]


def held(term: Terminal, amount: str) -> str:
    """A hold taken in-process (the tap needs no reader here); its id."""

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


def test_increment_and_capture_with_tip_from_the_cli(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    hold_id = held(term, "100.00")
    raised = term.cli("preauth", "increment", hold_id, "--amount", "20.00", "--json")
    assert raised.returncode == 0, raised.stderr
    assert json.loads(raised.stdout)["result"] == "approved"
    captured = term.cli("capture", hold_id, "--amount", "110.00", "--tip", "8.00", "--json")
    assert captured.returncode == 0, captured.stderr
    answer = json.loads(captured.stdout)
    assert list(answer) == OUTCOME_KEYS
    assert answer["amount"] == {"value": 11800, "currency": "EUR"}
    assert answer["result"] == "approved"
    rows = {row["id"]: row for row in json.loads(term.cli("history", "--json").stdout)}
    hold = rows[hold_id]
    assert (hold["type"], hold["state"], hold["result"]) == ("preauth", "captured", "approved")
    assert hold["held"] == {"value": 12000, "currency": "EUR"}
    assert hold["captured"] == {"value": 11800, "currency": "EUR"}
    capture = rows[answer["id"]]
    assert (capture["type"], capture["ref"], capture["state"]) == ("capture", hold_id, "approved")
    assert capture["tip"] == {"value": 800, "currency": "EUR"}
    captures = [e for e in term.ledger() if e["type"] == "capture"]
    assert [e["amount"]["value"] for e in captures] == [11800]


def test_bad_requests_exit_2_and_send_nothing(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    hold_id = held(term, "50.00")
    before = term.ledger()
    refusals = {
        "unknown id": term.cli("capture", "0b5d3c1e-0000-4000-8000-000000000000", "--json"),
        "negative tip": term.cli("capture", hold_id, "--tip", "-1.00"),
        "other currency": term.cli("capture", hold_id, "--amount", "50.00", "--currency", "USD"),
        "zero increment": term.cli("preauth", "increment", hold_id, "--amount", "0.00"),
        "no amount": term.cli("preauth"),
    }
    for case, done in refusals.items():
        assert done.returncode == 2, (case, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, case
    assert "cannot be negative" in refusals["negative tip"].stderr
    assert "in EUR" in refusals["other currency"].stderr
    unknown = json.loads(refusals["unknown id"].stdout)
    assert unknown["result"] == "error" and unknown["message"]
    assert term.ledger() == before
    assert term.cli("capture", hold_id).returncode == 0
    after = term.ledger()
    on_captured = term.cli("preauth", "increment", hold_id, "--amount", "5.00")
    assert on_captured.returncode == 2
    assert "is captured" in on_captured.stderr and "Nothing was sent" in on_captured.stderr
    again = term.cli("capture", hold_id)
    assert again.returncode == 2
    assert term.ledger() == after
    audit = AuditLog(term.settings.data_dir)
    captures = [r.details for r in audit.records() if r.action == "payment.capture"]
    assert [c["result"] for c in captures] == ["refused"] * 3 + ["approved", "refused"]
    assert all(c["door"] == "cli" for c in captures)
    assert captures[3]["amount"] == {"value": 5000, "currency": "EUR"}
    assert audit.verify().intact


def test_a_capture_with_the_bank_down_waits_in_the_queue(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal()
    hold_id = held(term, "40.00")
    term.sim.faults(down=True)
    try:
        queued = term.cli("capture", hold_id, "--json", timeout=90)
        status = json.loads(term.cli("saf", "status", "--json").stdout)
    finally:
        term.sim.faults()
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["result"] == "approved_offline"
    assert (status["count"], status["captures"], status["advices"]) == (1, 1, 0)
    flushed = term.cli("saf", "flush", "--json")
    assert flushed.returncode == 0, flushed.stderr
    assert [e["amount"]["value"] for e in term.ledger() if e["type"] == "capture"] == [4000]
    rows = {row["id"]: row for row in json.loads(term.cli("history", "--json").stdout)}
    assert rows[hold_id]["state"] == "captured"


def test_cancel_from_the_cli_releases_the_hold(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    hold_id = held(term, "80.00")
    cancelled = term.cli("preauth", "cancel", hold_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "released" in cancelled.stderr
    assert [h["state"] for h in term.sim.holds(term.terminal_id)] == ["released"]
    assert term.cli("capture", hold_id).returncode == 2


def test_an_increment_repeated_with_its_reference_is_sent_once(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal()
    hold_id = held(term, "60.00")
    command = ("preauth", "increment", hold_id, "--amount", "10.00", "--reference", "R-1")
    first = term.cli(*command, "--json")
    again = term.cli(*command, "--json")
    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert json.loads(again.stdout)["id"] == json.loads(first.stdout)["id"]
    other = term.cli("preauth", "increment", hold_id, "--amount", "11.00", "--reference", "R-1")
    assert other.returncode == 2 and "use a new reference" in other.stderr
    raises = [e for e in term.ledger() if e["type"] == "increment"]
    assert [e["amount"]["value"] for e in raises] == [1000]
