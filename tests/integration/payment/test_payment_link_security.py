"""Attacks on the bank link, reproduced against the real engine: each now fails to succeed.

- A gateway (or a man in the middle) that streams a 300 MB answer: the terminal reads 64 KiB,
  closes the connection and treats the delivery as an unverifiable answer (security alarm,
  the same message re-sent, then a reversal queued), its memory never near the answer's size.
"""

from __future__ import annotations

import logging
import socket
import threading
import tracemalloc
from collections.abc import Callable

import pytest
from payment_terminal import Terminal, pay

from simulators.card.tap import TappedCard
from terminal.payment.api import Result
from terminal.payment.states import State
from tests.conftest import free_port

FLOOD_BYTES = 300 * 1024 * 1024


def flooding_gateway(port: int, stop: threading.Event) -> threading.Thread:
    """Answers every request with a chunked 300 MB body (one reused 1 MiB block), until the
    client hangs up; its own memory stays flat, so a traced peak is the terminal's."""
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.2)
    block = b"A" * (1024 * 1024)

    def answer(conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(65536)
                if not data:
                    return
                request += data
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(FLOOD_BYTES // len(block)):
                    conn.sendall(b"%x\r\n" % len(block))
                    conn.sendall(block)
                    conn.sendall(b"\r\n")
            except OSError:
                return

    def run() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                conn.settimeout(10)
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def test_a_300_mb_answer_is_cut_at_64_kib_and_the_sale_is_reversed(
    terminal: Callable[..., Terminal], caplog: pytest.LogCaptureFixture
) -> None:
    port, stop = free_port(), threading.Event()
    server = flooding_gateway(port, stop)
    try:
        term = terminal(
            gateway={
                "url": f"http://127.0.0.1:{port}",
                "allow_plain_http_loopback": True,
                "timeout_s": 1.0,
            }
        )
        engine = term.engine(TappedCard("visa-credit"))
        await engine.start(forward=False)
        try:
            tracemalloc.start()
            with caplog.at_level(logging.ERROR):
                outcome = await pay(engine, "5.00")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert (outcome.result, outcome.code) == (Result.ERROR, "68"), outcome.message
            # Sent, so it may have arrived: the reversal is stored before the operator is told.
            assert engine.journal.get(outcome.id).state is State.REVERSING
            assert engine.queue_status().reversals == 1
            assert "SECURITY ALARM" in caplog.text and "larger than 65536 bytes" in caplog.text
            assert peak < 16 * 1024 * 1024, f"peak {peak} bytes for a 300 MB answer"
        finally:
            await engine.stop()
    finally:
        stop.set()
        server.join(5)
