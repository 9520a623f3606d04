"""`/ecr/v1/preauths` as a till uses it, over real HTTP, with the real engine and simulator:
hold, raise, capture with a tip, cancel; bad requests are 400 and send nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from payment_terminal import Terminal

from simulators.card.tap import TappedCard
from terminal.ecr.server import EcrServer
from terminal.payment.engine import Engine
from tests.conftest import free_port

TOKEN = "till-token-0123456789"


@dataclass
class Till:
    http: httpx.AsyncClient
    term: Terminal
    engine: Engine


@pytest.fixture
async def till(terminal: Callable[..., Terminal]) -> AsyncIterator[Till]:
    port = free_port()
    term = terminal(ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN})
    engine = term.engine(TappedCard("wallet-token"))
    await engine.start()
    server = EcrServer(term.settings, engine)
    await server.start()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=20,
    ) as http:
        yield Till(http, term, engine)
    await server.stop()
    await engine.stop()


def eur(value: int) -> dict[str, Any]:
    return {"value": value, "currency": "EUR"}


async def open_hold(till: Till, value: int, reference: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"amount": eur(value)}
    if reference:
        body["reference"] = reference
    created = await till.http.post("/ecr/v1/preauths", json=body)
    assert created.status_code == 202, created.text
    assert created.headers["Location"] == f"/ecr/v1/preauths/{created.json()['id']}"
    done = (await till.http.get(f"/ecr/v1/preauths/{created.json()['id']}?wait=10")).json()
    assert done["state"] == "completed" and done["result"] == "approved", done
    assert done["hold"]["state"] == "held"
    return dict(done)


async def test_hold_raise_and_capture_with_tip_from_the_till(till: Till) -> None:
    held = await open_hold(till, 10000, reference="ROOM-12")
    hold_id = held["id"]  # the till's own id works on the sub-resources
    raised = await till.http.post(
        f"/ecr/v1/preauths/{hold_id}/increment", json={"amount": eur(2000)}
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["hold"]["held"] == eur(12000)
    captured = await till.http.post(
        f"/ecr/v1/preauths/{hold_id}/capture", json={"amount": eur(11000), "tip": eur(800)}
    )
    assert captured.status_code == 200, captured.text
    answer = captured.json()
    assert answer["result"] == "approved" and answer["amount"] == eur(11800)
    assert answer["hold"]["state"] == "captured" and answer["hold"]["captured"] == eur(11800)
    by_journal_id = (await till.http.get(f"/ecr/v1/preauths/{held['transaction_id']}")).json()
    assert by_journal_id["state"] == "completed"
    assert by_journal_id["hold"]["state"] == "captured"
    charges = [e for e in till.term.ledger() if e["type"] == "capture"]
    assert [e["amount"] for e in charges] == [eur(11800)]


async def test_cancel_from_the_till_releases_the_hold(till: Till) -> None:
    held = await open_hold(till, 5000)
    cancelled = await till.http.post(f"/ecr/v1/preauths/{held['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["hold"]["state"] == "released"
    assert [h["state"] for h in till.term.sim.holds(till.term.terminal_id)] == ["released"]


async def test_bad_requests_are_400_and_send_nothing(till: Till) -> None:
    held = await open_hold(till, 5000)
    hold_id = held["transaction_id"]
    before = till.term.ledger()
    cases = {
        "unknown id": ("/ecr/v1/preauths/0b5d3c1e-0000-4000-8000-000000000000/capture", {}),
        "negative tip": (f"/ecr/v1/preauths/{hold_id}/capture", {"tip": eur(-100)}),
        "other currency": (
            f"/ecr/v1/preauths/{hold_id}/capture",
            {"amount": {"value": 5000, "currency": "USD"}},
        ),
        "zero increment": (f"/ecr/v1/preauths/{hold_id}/increment", {"amount": eur(0)}),
        "unknown field": (f"/ecr/v1/preauths/{hold_id}/capture", {"gratuity": eur(1)}),
    }
    for case, (path, body) in cases.items():
        answer = await till.http.post(path, json=body)
        assert answer.status_code == 400, (case, answer.text)
        assert answer.json()["message"], case
    assert till.term.ledger() == before
    captured = await till.http.post(f"/ecr/v1/preauths/{hold_id}/capture", json={})
    assert captured.status_code == 200 and captured.json()["amount"] == eur(5000)
    after = till.term.ledger()
    on_captured = await till.http.post(
        f"/ecr/v1/preauths/{hold_id}/increment", json={"amount": eur(500)}
    )
    assert on_captured.status_code == 400
    assert "is captured" in on_captured.json()["message"]
    assert till.term.ledger() == after


async def test_retries_from_the_till_are_answered_not_booked_again(till: Till) -> None:
    """A till whose connection dropped while the bank answered repeats its POST with the same
    "reference": it gets the first outcome (same id) and the bank sees one increment, one
    capture (issue #17)."""
    held = await open_hold(till, 10000)
    hold_id = held["transaction_id"]
    path = f"/ecr/v1/preauths/{hold_id}"
    till.term.sim.faults(delay_ms=600)
    try:
        with pytest.raises(httpx.TimeoutException):  # the till gives up; the terminal goes on
            await till.http.post(
                f"{path}/increment",
                json={"amount": eur(2000), "reference": "ROOM-7-A"},
                timeout=0.2,
            )
        retried = await till.http.post(
            f"{path}/increment", json={"amount": eur(2000), "reference": "ROOM-7-A"}
        )
    finally:
        till.term.sim.faults()
    assert retried.status_code == 200, retried.text
    first = retried.json()
    assert first["result"] == "approved", first
    assert first["hold"]["held"] == eur(12000)
    again = await till.http.post(
        f"{path}/increment", json={"amount": eur(2000), "reference": "ROOM-7-A"}
    )
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert again.json()["hold"]["held"] == eur(12000)
    reused = await till.http.post(
        f"{path}/increment", json={"amount": eur(2500), "reference": "ROOM-7-A"}
    )
    assert reused.status_code == 400 and "use a new reference" in reused.json()["message"]
    raises = [e for e in till.term.ledger() if e["type"] == "increment"]
    assert [e["amount"] for e in raises] == [eur(2000)]

    capture = {"amount": eur(11000), "tip": eur(500), "reference": "ROOM-7-C"}
    captured = await till.http.post(f"{path}/capture", json=capture)
    assert captured.status_code == 200 and captured.json()["result"] == "approved"
    repeat = await till.http.post(f"{path}/capture", json=capture)
    assert repeat.status_code == 200, repeat.text
    assert (repeat.json()["id"], repeat.json()["result"]) == (captured.json()["id"], "approved")
    cancel = await till.http.post(f"{path}/cancel", json={"reference": "ROOM-7-C"})
    assert cancel.status_code == 400 and "is captured" in cancel.json()["message"]
    charges = [e for e in till.term.ledger() if e["type"] == "capture"]
    assert [e["amount"] for e in charges] == [eur(11500)]
