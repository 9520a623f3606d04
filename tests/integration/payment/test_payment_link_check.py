"""The engine checks the link (`/v1/health`) when it starts, in the background: the operator
sees "Bank: ONLINE" before the first sale, and a slow gateway does not delay start-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from payment_terminal import Terminal

from simulators.card.tap import TappedCard
from tests.conftest import free_port


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


async def test_engine_shows_the_bank_online_before_the_first_sale(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal()
    engine = term.engine(TappedCard("visa-credit"))
    assert not engine.gateway_online  # nothing known before start
    async with engine:
        assert await _until(lambda: engine.gateway_online)
        assert engine.history() == []  # no message was needed to learn it
    assert term.ledger() == []


async def test_gateway_down_at_start_shows_offline_and_start_still_succeeds(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal()
    term.sim.faults(down=True)
    engine = term.engine(TappedCard("visa-credit"))
    async with engine:
        await asyncio.sleep(0.5)
        assert not engine.gateway_online


async def test_a_gateway_that_never_answers_does_not_delay_start_up(
    terminal: Callable[..., Terminal],
) -> None:
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # accepts, then never says a word (no TLS handshake)

    port = free_port()
    server = await asyncio.start_server(silent, "127.0.0.1", port)
    try:
        term = terminal(gateway={"url": f"https://127.0.0.1:{port}"})
        engine = term.engine(TappedCard("visa-credit"))
        started = time.monotonic()
        await engine.start(forward=False)
        try:
            assert time.monotonic() - started < 0.5
            assert await _until(lambda: bool(connections), 2.0)  # the check is under way
            assert not engine.gateway_online
        finally:
            stopping = time.monotonic()
            await engine.stop()
            assert time.monotonic() - stopping < 0.5  # the pending check is cancelled
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
