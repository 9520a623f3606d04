"""Gateway: signed-and-encrypted authorize round trips against the real simulator on loopback.

Figures (one table, medians over runs, ratios measured in the same run):
- authorize round trips per second, one terminal sending one after the other (build + encrypt
  card data + sign + HTTPS POST + simulator: verify, decrypt, ARQC, SQLite commit + verify answer)
- the same with 16 terminals' messages in flight at once (the simulator's throughput)
- the client's own work per message: encrypt card data + sign + verify the answer
- the simulator's own CPU time per authorize (from /proc), to show it is not the bottleneck
- raw HTTP round trip on the same TLS keep-alive connection (GET /v1/health): the baseline
- the raw primitives under one message (X25519 agreement + Concat KDF + AES-GCM, an Ed25519
  signature and its check, straight on `cryptography`): the floor of the client overhead, whose
  ratio to it is the JOSE layer's own cost (parsing, base64, JSON, headers)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import Row
from simulators.bank.local import GatewaySim, new_card
from simulators.card.tap import CARDS, wire_card_data
from terminal.gateway.client import GatewayClient
from terminal.gateway.jose import GatewayKeys, TerminalSigner, sign_compact
from terminal.gateway.messages import build_request, new_message_id
from terminal.money import Amount
from terminal.security.keystore import Keystore
from terminal.settings import load_settings

CONCURRENCY = 16
HEALTH_TIMEOUT_S = 5.0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Terminal:
    def __init__(self, sim: GatewaySim, folder: Path, terminal_id: str, card: str) -> None:
        path = sim.terminal_config(folder, terminal_id=terminal_id)
        self.settings = load_settings(path, environ={})
        self.keys = GatewayKeys.from_settings(self.settings.gateway)
        self.client = GatewayClient(self.settings, self.keys)
        self.signer = TerminalSigner(Keystore.open(self.settings.data_dir, terminal_id))
        self.card = CARDS[card]
        self.amount = Amount.of(100, "EUR")
        self.seq = 0

    def tap(self) -> dict[str, Any]:
        """The card data of a fresh tap (a new ARQC): the card's work, not the client's."""
        return wire_card_data(self.card, self.amount)

    def build(self, tapped: dict[str, Any] | None = None) -> tuple[str, bytes]:
        """Client work before sending: encrypt the card data, build and sign the request.

        Each sale is a tap of its own (a fresh ARQC, made here): the simulator declines card
        data replayed under a new message id, as an issuer does."""
        self.seq += 1
        message_id = new_message_id()
        payload = build_request(
            "authorize",
            id=message_id,
            seq=self.seq,
            terminal_id=self.settings.terminal.terminal_id,
            merchant_id=self.settings.terminal.merchant_id,
            created_at=datetime.now(UTC),
            amount=self.amount,
            entry="nfc",
            card={
                "scheme": self.card.scheme,
                "aid": self.card.aid,
                "masked_pan": "476173******0000",
                "data": self.keys.encrypt(tapped if tapped is not None else self.tap()),
            },
        )
        return message_id, self.signer.sign(payload)

    async def authorize(self) -> None:
        message_id, body = self.build()
        answer = await self.client.send(message_id, body)
        if not answer.approved:
            raise RuntimeError(f"benchmark sale declined: {answer.code} {answer.reason}")


def _primitives(terminal: Terminal, answer_key: Any, count: int) -> float:
    """Seconds per message of the bare crypto under encrypt + sign + verify, same sizes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

    gateway = X25519PrivateKey.generate().public_key()
    signer = Ed25519PrivateKey.generate()
    answer_private: Ed25519PrivateKey = answer_key.private_key
    answer_public = answer_private.public_key()
    tapped = terminal.tap()
    plaintext = json.dumps(tapped).encode()
    request = terminal.build(tapped)[1]
    answer = sign_compact({"v": 1, "id": "x" * 26}, answer_key, kid="gw", typ="posterm-response")
    answer_input = answer.rsplit(b".", 1)[0]  # what a JWS signature covers
    answer_sig = answer_private.sign(answer_input)
    start = time.perf_counter()
    for _ in range(count):
        ephemeral = X25519PrivateKey.generate()
        secret = ephemeral.exchange(gateway)
        key = ConcatKDFHash(hashes.SHA256(), 32, b"A256GCM").derive(secret)
        AESGCM(key).encrypt(os.urandom(12), plaintext, b"header")
        signer.sign(request)
        answer_public.verify(answer_sig, answer_input)
    return (time.perf_counter() - start) / count


def _client_overhead(terminal: Terminal, answer_key: Any, count: int) -> float:
    """Seconds per message of encrypt + sign + verify (the answer signed like the gateway)."""
    answers = []
    for _ in range(count):
        message_id = new_message_id()
        payload = {
            "v": 1,
            "id": message_id,
            "type": "authorize",
            "result": "approved",
            "code": "00",
            "auth_code": "A1B2C3",
            "reason": "",
            "gateway_ref": "SIM1",
            "at": "2026-01-01T00:00:00.000Z",
        }
        answers.append(
            (message_id, sign_compact(payload, answer_key, kid="gw", typ="posterm-response"))
        )
    keys = GatewayKeys(answer_key.as_dict(private=False), terminal.keys.encryption.as_dict())
    taps = [terminal.tap() for _ in answers]  # the card's cryptograms, made before the clock
    start = time.perf_counter()
    for (message_id, body), tapped in zip(answers, taps, strict=True):
        terminal.build(tapped)
        keys.verify_answer(body, expected_id=message_id)
    return (time.perf_counter() - start) / count


async def _bench(quick: bool) -> list[Row]:
    from joserfc.jwk import OKPKey

    runs = 3 if quick else 5
    per_run = 40 if quick else 200
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        folder = Path(tmp)
        sim = GatewaySim(folder / "sim", extra_args=("--log-level", "WARNING"))
        terminals: list[Terminal] = []
        try:
            for n in range(CONCURRENCY):
                card = new_card(sim, balance="9000000.00")
                terminals.append(Terminal(sim, folder, f"BENCH{n:03d}", card))
            first = terminals[0]
            await first.authorize()  # warm up: TLS session, imports, SQLite pages
            await first.client.health()

            sequential, concurrent, raw, sim_cpu = [], [], [], []
            health_url = f"{first.client.urls[0]}/v1/health"  # raw: the client's own transport
            assert sim.process is not None
            pid = sim.process.pid
            for _ in range(runs):
                start = time.perf_counter()
                for _ in range(per_run):
                    await first.authorize()
                sequential.append(per_run / (time.perf_counter() - start))

                start = time.perf_counter()
                for _ in range(per_run):
                    await first.client._exchange(
                        "GET", health_url, connect_s=HEALTH_TIMEOUT_S, read_s=HEALTH_TIMEOUT_S
                    )
                raw.append((time.perf_counter() - start) / per_run)

                async def worker(terminal: Terminal, count: int) -> None:
                    for _ in range(count):
                        await terminal.authorize()

                each = max(1, per_run // CONCURRENCY)
                cpu_before = _cpu_s(pid)
                start = time.perf_counter()
                await asyncio.gather(*(worker(t, each) for t in terminals))
                concurrent.append(each * CONCURRENCY / (time.perf_counter() - start))
                sim_cpu.append((_cpu_s(pid) - cpu_before) / (each * CONCURRENCY))

            answer_key = OKPKey.generate_key("Ed25519")
            overhead, primitives = [], []
            for _ in range(runs):  # interleaved: both see the same machine load
                overhead.append(_client_overhead(first, answer_key, per_run))
                primitives.append(_primitives(first, answer_key, per_run))
        finally:
            for terminal in terminals:
                await terminal.client.aclose()
            sim.stop()

    rtt_ms = [1000 / value for value in sequential]
    raw_ms = [value * 1000 for value in raw]
    overhead_ms = [value * 1000 for value in overhead]
    primitives_ms = [value * 1000 for value in primitives]
    raw_median = statistics.median(raw_ms)
    return [
        Row(
            "gateway",
            "authorize round trips/s, 1 terminal",
            statistics.median(sequential),
            "1/s",
            min(sequential),
            max(sequential),
            runs,
            f"{statistics.median(rtt_ms) / raw_median:.1f} x raw HTTP round trip",
            note=f"{per_run} sales per run, TLS keep-alive, SQLite synchronous=FULL",
        ),
        Row(
            "gateway",
            f"authorize round trips/s, {CONCURRENCY} terminals",
            statistics.median(concurrent),
            "1/s",
            min(concurrent),
            max(concurrent),
            runs,
            f"{statistics.median(concurrent) / statistics.median(sequential):.1f} x 1 terminal",
            note="16 clients in the bench process; the simulator is its own process",
        ),
        Row(
            "gateway",
            "simulator CPU per authorize (verify, decrypt, ARQC, book)",
            statistics.median(sim_cpu) * 1000,
            "ms",
            min(sim_cpu) * 1000,
            max(sim_cpu) * 1000,
            runs,
            f"{statistics.median(sim_cpu) * 1000 / statistics.median(rtt_ms):.2f} x 1-terminal "
            "round trip",
            note="CPU only; fsyncs are shared by group commit",
        ),
        Row(
            "gateway",
            "client overhead per message (encrypt+sign+verify)",
            statistics.median(overhead_ms),
            "ms",
            min(overhead_ms),
            max(overhead_ms),
            runs,
            f"{statistics.median(overhead_ms) / statistics.median(primitives_ms):.2f} x raw "
            "crypto primitives",
            target="<= 0.5 ms",
            note=f"{statistics.median(overhead_ms) / raw_median:.2f} x raw HTTP round trip",
        ),
        Row(
            "gateway",
            "raw crypto primitives per message (X25519+KDF+AES-GCM, Ed25519 sign+verify)",
            statistics.median(primitives_ms),
            "ms",
            min(primitives_ms),
            max(primitives_ms),
            runs,
            "baseline",
            note="straight on cryptography, same sizes, no JOSE",
        ),
        Row(
            "gateway",
            "raw HTTP round trip (GET /v1/health, TLS keep-alive)",
            raw_median,
            "ms",
            min(raw_ms),
            max(raw_ms),
            runs,
            "baseline",
        ),
    ]


def run(quick: bool) -> list[Row]:
    return asyncio.run(_bench(quick))
