"""The ECR port under attack (findings 5 and 14): idle and dribbling connections are closed,
a flood of them never keeps the till from paying, and hostile bodies get a 400 with a sentence,
never a 5xx or a traceback, and never start a payment."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from terminal.ecr.server import EcrServer
from terminal.settings import Settings
from tests.conftest import free_port
from tests.ui.memory_engine import MemoryEngine

TOKEN = "till-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAYMENT = {"amount": {"value": 1234, "currency": "EUR"}, "method": "nfc"}
CLOSE_WAIT_S = 20.0
"""How long a test waits for the server to close a socket (not a threshold: a bound)."""


@asynccontextmanager
async def serving(**ecr: object) -> AsyncIterator[tuple[EcrServer, MemoryEngine, int]]:
    port = free_port()
    settings = Settings.model_validate(
        {"ecr": {"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN, **ecr}}
    )
    engine = MemoryEngine()
    server = EcrServer(settings, engine)
    await server.start()
    try:
        yield server, engine, port
    finally:
        engine.tap()
        await server.stop()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (reset counts as closed)."""
    try:
        return await asyncio.wait_for(reader.read(), CLOSE_WAIT_S)
    except ConnectionResetError:
        return b""


async def eventually(condition: Callable[[], bool]) -> None:
    for _ in range(int(CLOSE_WAIT_S / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout() -> None:
    async with serving(header_timeout_s=0.3) as (server, _engine, port):
        reader, writer = await connect(port)
        assert await read_until_closed(reader) == b""
        assert server.connections.expired == 1 and server.connections.open == 0
        writer.close()


async def test_a_slowloris_dribbling_a_header_is_closed_after_the_header_timeout() -> None:
    async with serving(header_timeout_s=0.5) as (server, engine, port):
        reader, writer = await connect(port)
        writer.write(b"POST /ecr/v1/payments HTTP/1.1\r\nHost: till\r\n")
        closed = asyncio.ensure_future(read_until_closed(reader))
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":
            if closed.done():
                break
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)
        assert await closed == b""
        assert server.connections.expired == 1
        assert engine.requests == []
        writer.close()


async def test_a_flood_of_idle_connections_never_keeps_the_till_from_paying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="terminal.ecr")
    async with serving(max_connections=4, header_timeout_s=60) as (server, engine, port):
        idle = [await connect(port) for _ in range(4)]
        await eventually(lambda: server.connections.open == 4)
        newcomer = await connect(port)  # the 5th: the oldest idle one makes room
        assert await read_until_closed(idle[0][0]) == b""
        await eventually(lambda: server.connections.open == 4)

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as till:
            created = await till.post("/ecr/v1/payments", json=PAYMENT)
            assert created.status_code == 202, created.text
            engine.tap()
            done = await till.get(f"/ecr/v1/payments/{created.json()['id']}?wait=10")
            assert done.json()["result"] == "approved"

            more = [await connect(port) for _ in range(20)]  # the same burst goes on
            await eventually(lambda: server.connections.evicted >= 21)
            status = await till.get("/ecr/v1/status")  # the till's connection stayed
            assert status.status_code == 200
        assert server.connections.open <= 4
        warnings = [r for r in caplog.records if "limit of 4 connections" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
        for _reader, writer in [*idle, newcomer, *more]:
            writer.close()


async def test_when_every_connection_has_the_token_a_newcomer_is_refused() -> None:
    async with serving(max_connections=2, header_timeout_s=60) as (server, _engine, port):
        base = f"http://127.0.0.1:{port}"
        async with (
            httpx.AsyncClient(base_url=base, headers=AUTH) as first,
            httpx.AsyncClient(base_url=base, headers=AUTH) as second,
        ):
            assert (await first.get("/ecr/v1/status")).status_code == 200
            assert (await second.get("/ecr/v1/status")).status_code == 200
            reader, writer = await connect(port)
            assert await read_until_closed(reader) == b""
            assert server.connections.refused == 1
            writer.close()
            assert (await first.get("/ecr/v1/status")).status_code == 200
        await eventually(lambda: server.connections.open == 0)
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as later:
            assert (await later.get("/ecr/v1/status")).status_code == 200


async def test_an_answer_without_the_token_closes_the_connection() -> None:
    async with serving() as (server, _engine, port):
        reader, writer = await connect(port)
        writer.write(b"GET /ecr/v1/status HTTP/1.1\r\nHost: till\r\n\r\n")
        answer = await read_until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 401")
        assert b'"error": "unauthorized"' in answer
        await eventually(lambda: server.connections.open == 0)
        writer.close()


async def test_a_body_that_stalls_gets_408_and_starts_nothing() -> None:
    async with serving(body_timeout_s=0.3) as (_server, engine, port):
        reader, writer = await connect(port)
        writer.write(
            b"POST /ecr/v1/payments HTTP/1.1\r\nHost: till\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
            + b'{"amount": {"value": 1234,'
        )
        answer = await read_until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 408")
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["error"] == "timeout" and "did not arrive within 0.3 seconds" in body["message"]
        assert engine.requests == []
        writer.close()


async def test_an_oversized_header_is_refused_without_a_5xx() -> None:
    async with serving() as (_server, engine, port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as till:
            answer = await till.post(
                "/ecr/v1/payments", json=PAYMENT, headers={"X-Junk": "a" * 10_000}
            )
        assert 400 <= answer.status_code < 500
        assert "Traceback" not in answer.text
        assert engine.requests == []


HOSTILE = [
    (b"[" * 15_000, "deeper than 32"),
    (b'{"a":' * 3_000, "deeper than 32"),
    (
        b'{"amount": {"value": ' + b"9" * 5_000 + b', "currency": "EUR"}, "method": "nfc"}',
        "number longer than 64",
    ),
    (
        b'{"amount": {"value": 1.' + b"5" * 5_000 + b', "currency": "EUR"}, "method": "nfc"}',
        "number longer than 64",
    ),
    *[
        (
            json.dumps({"amount": {"value": 10**30, "currency": "EUR"}, "method": method}).encode(),
            "above the terminal's maximum of EUR 9,999,999,999.99",
        )
        for method in ("nfc", "qr-scan", "qr-show")
    ],
    (
        json.dumps({"amount": {"value": 10**12, "currency": "EUR"}, "method": "qr-show"}).encode(),
        "above the terminal's maximum",
    ),
]


@pytest.mark.parametrize(("body", "reason"), HOSTILE, ids=lambda v: str(v)[:30])
async def test_hostile_payment_body_is_400_with_a_sentence(body: bytes, reason: str) -> None:
    async with serving() as (_server, engine, port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as till:
            answer = await till.post(
                "/ecr/v1/payments", content=body, headers={"Content-Type": "application/json"}
            )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "malformed"
        assert reason in answer.json()["message"]
        assert "Traceback" not in answer.text
        assert engine.requests == []


async def test_the_largest_amount_is_taken_on_every_method_and_refunds_are_capped_too() -> None:
    async with serving() as (_server, engine, port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as till:
            largest = {"amount": {"value": 999_999_999_999, "currency": "EUR"}}
            for method in ("qr-scan", "qr-show", "nfc"):
                created = await till.post("/ecr/v1/payments", json={**largest, "method": method})
                assert created.status_code == 202, created.text
                engine.tap()
                engine.pay_code()
                done = await till.get(f"/ecr/v1/payments/{created.json()['id']}?wait=10")
                assert done.json()["state"] == "completed"
            refund = await till.post(
                f"/ecr/v1/payments/{created.json()['id']}/refund",
                json={"amount": {"value": 10**30, "currency": "EUR"}},
            )
            assert refund.status_code == 400
            assert "above the terminal's maximum" in refund.json()["message"]
        assert [r.amount.minor for r in engine.requests] == [999_999_999_999] * 3
