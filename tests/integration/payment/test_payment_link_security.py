"""Attacks on the bank link, reproduced against the real engine: each now fails to succeed.

- A gateway (or a man in the middle) that streams a 300 MB answer: the terminal reads 64 KiB,
  closes the connection and treats the delivery as an unverifiable answer (security alarm,
  the same message re-sent, then a reversal queued), its memory never near the answer's size.
- A man in the middle whose certificate does not verify: not "the bank is down" but a security
  alarm; no sale is approved offline while the link fails verification (setting, default on).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from payment_terminal import Terminal, pay

from simulators.bank.setup import prepare
from simulators.card.tap import TappedCard
from terminal.payment.api import Result
from terminal.payment.factory import build_engine
from terminal.payment.states import State
from terminal.security import alarms
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


async def test_a_gateway_whose_certificate_fails_verification_gets_no_offline_approval(
    terminal: Callable[..., Terminal], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A man in the middle (here: the simulator's certificate, but another CA configured)
    must not pass for "the bank is down": no offline approval, a security alarm in the log,
    in `saf status` and on the operator's status; with the right CA everything is normal."""
    other_ca, _ = prepare(tmp_path / "another-ca")
    term = terminal(gateway={"ca_file": str(other_ca.ca_pem)})
    engine = term.engine(TappedCard("visa-credit"))
    heard: list[tuple[str, dict[str, object]]] = []
    stop_listening = alarms.listen(lambda kind, details: heard.append((kind, dict(details))))
    await engine.start(forward=False)
    try:
        with caplog.at_level(logging.ERROR):
            outcome = await pay(engine, "5.00")  # well under the offline floor limit
        assert (outcome.result, outcome.code) == (Result.DECLINED, "91"), outcome.message
        assert "bank_certificate_untrusted" in [kind for kind, _ in heard]  # the fleet hears it
        assert outcome.message.startswith("SECURITY ALARM: the bank's certificate")
        assert engine.journal.get(outcome.id).state is State.DECLINED
        assert engine.queue_status().count == 0, "nothing was approved offline"
        assert "security alarm: the gateway's TLS certificate failed verification" in caplog.text
    finally:
        await engine.stop()
        stop_listening()
    assert term.ledger() == []
    status = json.loads(term.cli("saf", "status", "--json").stdout)
    assert status["link"] == "untrusted" and "certificate" in status["link_alarm"]
    text = term.cli("saf", "status").stdout
    assert "link:       UNTRUSTED - security alarm" in text

    # The technician points ca_file at the bank's real CA: the link verifies, the alarm clears.
    gateway = term.settings.gateway.model_copy(update={"ca_file": str(term.sim.ca_file)})
    fixed = term.settings.model_copy(update={"gateway": gateway})
    engine = build_engine(fixed, card_capture=TappedCard("visa-credit"))
    await engine.start(forward=False)
    try:
        assert (await pay(engine, "5.00")).result is Result.APPROVED
    finally:
        await engine.stop()
    assert json.loads(term.cli("saf", "status", "--json").stdout)["link"] == "ok"


async def test_with_the_suspension_off_an_untrusted_link_may_approve_offline(
    terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    other_ca, _ = prepare(tmp_path / "another-ca")
    term = terminal(
        gateway={"ca_file": str(other_ca.ca_pem)}, offline={"suspend_on_tls_failure": False}
    )
    engine = term.engine(TappedCard("visa-credit"))
    await engine.start(forward=False)
    try:
        assert (await pay(engine, "5.00")).result is Result.APPROVED_OFFLINE
    finally:
        await engine.stop()
    assert json.loads(term.cli("saf", "status", "--json").stdout)["link"] == "untrusted"
