"""The ECR API as a till uses it, over real HTTP on a loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from terminal.ecr.server import EcrServer
from terminal.settings import Settings
from tests.conftest import free_port
from tests.ui.memory_engine import MemoryEngine

TOKEN = "till-token-0123456789"


@dataclass
class Till:
    http: httpx.AsyncClient
    engine: MemoryEngine
    server: EcrServer


@pytest.fixture
async def till(tmp_path: Path) -> AsyncIterator[Till]:
    port = free_port()
    settings = Settings.model_validate(
        {
            "terminal": {"data_dir": str(tmp_path / "data")},  # the audit log goes here
            "ecr": {"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN},
        }
    )
    engine = MemoryEngine()
    server = EcrServer(settings, engine)
    await server.start()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ) as http:
        yield Till(http, engine, server)
    engine.tap()
    await server.stop()


def sale(value: int = 1234, method: str = "nfc", reference: str = "") -> dict[str, object]:
    body: dict[str, object] = {"amount": {"value": value, "currency": "EUR"}, "method": method}
    if reference:
        body["reference"] = reference
    return body


async def test_payment_is_accepted_followed_and_ends_approved(till: Till) -> None:
    answer = await till.http.post("/ecr/v1/payments", json=sale(reference="INV-1"))
    assert answer.status_code == 202
    created = answer.json()
    assert set(created) == {"id", "state"} and created["state"] == "in_progress"
    assert answer.headers["Location"] == f"/ecr/v1/payments/{created['id']}"

    still = (await till.http.get(f"/ecr/v1/payments/{created['id']}")).json()
    assert still["state"] == "in_progress" and still["result"] is None

    till.engine.tap()
    done = (await till.http.get(f"/ecr/v1/payments/{created['id']}?wait=5")).json()
    assert done["state"] == "completed"
    assert done["result"] == "approved"
    assert done["auth_code"] == "A1B2C3"
    assert done["amount"] == {"value": 1234, "currency": "EUR"}
    assert done["entry"] == "nfc"
    assert done["masked_pan"] == "476173******0119"
    assert done["reference"] == "INV-1"
    for key in ("id", "result", "code", "auth_code", "amount", "entry", "masked_pan", "message"):
        assert key in done  # the `posterm pay --json` object
    assert done["transaction_id"] == till.engine.rows[-1].id


async def test_long_poll_returns_when_the_payment_ends(till: Till) -> None:
    created = (await till.http.post("/ecr/v1/payments", json=sale(1251))).json()
    poll = asyncio.ensure_future(till.http.get(f"/ecr/v1/payments/{created['id']}?wait=10"))
    await asyncio.sleep(0.2)
    assert not poll.done()
    till.engine.tap()
    done = (await poll).json()
    assert done["result"] == "declined" and done["code"] == "51"


async def test_long_poll_gives_up_after_wait_seconds(till: Till) -> None:
    created = (await till.http.post("/ecr/v1/payments", json=sale())).json()
    loop = asyncio.get_running_loop()
    started = loop.time()
    body = (await till.http.get(f"/ecr/v1/payments/{created['id']}?wait=0.3")).json()
    assert body["state"] == "in_progress"
    assert 0.25 <= loop.time() - started < 3


async def test_cancel_while_waiting_for_the_card(till: Till) -> None:
    created = (await till.http.post("/ecr/v1/payments", json=sale())).json()
    await asyncio.sleep(0.05)
    answer = await till.http.delete(f"/ecr/v1/payments/{created['id']}")
    assert answer.status_code == 202 and answer.json()["state"] == "cancelling"
    done = (await till.http.get(f"/ecr/v1/payments/{created['id']}?wait=5")).json()
    assert done["result"] == "cancelled"
    again = await till.http.delete(f"/ecr/v1/payments/{created['id']}")
    assert again.status_code == 409 and again.json()["error"] == "already_completed"


async def test_one_payment_at_a_time(till: Till) -> None:
    first = await till.http.post("/ecr/v1/payments", json=sale())
    second = await till.http.post("/ecr/v1/payments", json=sale(999))
    assert second.status_code == 409
    assert second.json()["error"] == "busy" and first.json()["id"] in second.json()["message"]


async def test_same_reference_retried_is_the_same_payment(till: Till) -> None:
    first = (await till.http.post("/ecr/v1/payments", json=sale(reference="R-7"))).json()
    retry = await till.http.post("/ecr/v1/payments", json=sale(reference="R-7"))
    assert retry.status_code == 202 and retry.json()["id"] == first["id"]
    other = await till.http.post("/ecr/v1/payments", json=sale(500, reference="R-7"))
    assert other.status_code == 409 and other.json()["error"] == "reference_conflict"
    till.engine.tap()
    await till.http.get(f"/ecr/v1/payments/{first['id']}?wait=5")
    assert len(till.engine.requests) == 1


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-000000", "Basic abc", "Bearer"])
async def test_wrong_or_missing_token_is_401(till: Till, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    async with httpx.AsyncClient(base_url=str(till.http.base_url)) as stranger:
        for call in (
            stranger.post("/ecr/v1/payments", json=sale(), headers=headers),
            stranger.get("/ecr/v1/totals", headers=headers),
            stranger.get("/ecr/v1/payments/x", headers=headers),
        ):
            answer = await call
            assert answer.status_code == 401
            assert answer.json()["error"] == "unauthorized"
            assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert till.engine.requests == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"method": "nfc"}', 'Missing field "amount"'),
        (b'{"amount": {"value": 100, "currency": "EUR"}}', 'Missing field "method"'),
        (b'{"amount": {"value": 100, "currency": "EUR"}, "method": "cash"}', '"method"'),
        (b'{"amount": {"value": 12.5, "currency": "EUR"}, "method": "nfc"}', '"amount"'),
        (b'{"amount": {"value": 100, "currency": "USD"}, "method": "nfc"}', "takes EUR"),
        (b'{"amount": {"value": 0, "currency": "EUR"}, "method": "nfc"}', "more than zero"),
        (b'{"amount": {"value": -5, "currency": "EUR"}, "method": "nfc"}', "more than zero"),
        (b'{"amount": 1234, "method": "nfc"}', "must be an object"),
        (b'{"amount": {"value": 1, "currency": "EUR"}, "method": "nfc", "tip": 1}', "Unknown"),
        (
            b'{"amount": {"value": 1, "currency": "EUR"}, "method": "nfc", "reference": 7}',
            '"reference"',
        ),
        (
            b'{"amount": {"value": 1, "currency": "EUR"}, "method": "nfc", "reference": "'
            + b"x" * 26
            + b'"}',
            "longer than 25",
        ),
    ],
)
async def test_malformed_payment_is_400_with_the_reason(
    till: Till, body: bytes, reason: str
) -> None:
    answer = await till.http.post(
        "/ecr/v1/payments", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "malformed"
    assert reason in answer.json()["message"]
    assert till.engine.requests == []


async def test_bad_wait_is_400(till: Till) -> None:
    created = (await till.http.post("/ecr/v1/payments", json=sale())).json()
    for wait in ("soon", "-1", "nan", "9999"):
        answer = await till.http.get(f"/ecr/v1/payments/{created['id']}?wait={wait}")
        assert answer.status_code == 400, wait


async def test_unknown_payment_is_404(till: Till) -> None:
    answer = await till.http.get("/ecr/v1/payments/no-such-id")
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"


async def test_refund_part_then_the_rest_and_read_totals(till: Till) -> None:
    created = (await till.http.post("/ecr/v1/payments", json=sale(2000))).json()
    till.engine.tap()
    await till.http.get(f"/ecr/v1/payments/{created['id']}?wait=5")
    part = await till.http.post(
        f"/ecr/v1/payments/{created['id']}/refund",
        json={"amount": {"value": 500, "currency": "EUR"}},
    )
    assert part.status_code == 200 and part.json()["result"] == "approved"
    assert part.json()["amount"] == {"value": 500, "currency": "EUR"}
    rest = await till.http.post(f"/ecr/v1/payments/{created['id']}/refund")
    assert rest.status_code == 200
    totals = (await till.http.get("/ecr/v1/totals")).json()
    refunds = [line for line in totals["lines"] if line["type"] == "refund"]
    assert sum(line["count"] for line in refunds) == 2


async def test_refund_of_a_running_payment_is_refused(till: Till) -> None:
    created = (await till.http.post("/ecr/v1/payments", json=sale())).json()
    answer = await till.http.post(f"/ecr/v1/payments/{created['id']}/refund")
    assert answer.status_code == 409 and answer.json()["error"] == "in_progress"


async def test_refund_body_is_checked(till: Till) -> None:
    created = (await till.http.post("/ecr/v1/payments", json=sale())).json()
    till.engine.tap()
    await till.http.get(f"/ecr/v1/payments/{created['id']}?wait=5")
    answer = await till.http.post(
        f"/ecr/v1/payments/{created['id']}/refund",
        json={"amount": {"value": "1", "currency": "EUR"}},
    )
    assert answer.status_code == 400


async def test_status_shows_link_queue_and_running_payment(till: Till) -> None:
    created = (await till.http.post("/ecr/v1/payments", json=sale())).json()
    status = (await till.http.get("/ecr/v1/status")).json()
    assert status["gateway_online"] is True
    assert status["payment_in_progress"] == created["id"]
    assert status["queue"]["count"] == 0


async def test_declined_reference_may_be_tried_again(till: Till) -> None:
    first = (await till.http.post("/ecr/v1/payments", json=sale(1251, reference="R-9"))).json()
    till.engine.tap()
    declined = (await till.http.get(f"/ecr/v1/payments/{first['id']}?wait=5")).json()
    assert declined["result"] == "declined"
    again = (await till.http.post("/ecr/v1/payments", json=sale(1251, reference="R-9"))).json()
    assert again["id"] != first["id"] and again["state"] == "in_progress"
    assert len(till.engine.requests) == 2


async def test_approved_reference_is_not_charged_again_after_a_restart(till: Till) -> None:
    first = (await till.http.post("/ecr/v1/payments", json=sale(700, reference="R-10"))).json()
    till.engine.tap()
    await till.http.get(f"/ecr/v1/payments/{first['id']}?wait=5")
    await till.server.stop()  # the terminal restarts: the API forgets its own ids
    restarted = EcrServer(till.server.settings, till.engine)
    await restarted.start()
    try:
        retry = await till.http.post("/ecr/v1/payments", json=sale(700, reference="R-10"))
        assert retry.status_code == 202
        body = retry.json()
        assert body["state"] == "completed"
        assert body["id"] == till.engine.rows[-1].id  # the journal's id
        assert len(till.engine.requests) == 1
        shown = (await till.http.get(f"/ecr/v1/payments/{body['id']}")).json()
        assert shown["result"] == "approved" and shown["state"] == "completed"
        other = await till.http.post("/ecr/v1/payments", json=sale(800, reference="R-10"))
        assert other.status_code == 409 and other.json()["error"] == "reference_conflict"
    finally:
        await restarted.stop()
