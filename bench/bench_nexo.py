"""nexo Terminal API: what a payment costs over the nexo door compared with `/ecr/v1`.

One real engine (a card tapped without a reader, the gateway simulator) behind both doors in
the same event loop, so the difference is the door: `/ecr/v1` is a POST and a long-poll GET on
plain HTTP (its deployment: loopback on the till's machine); nexo is one POST over TLS on a new
connection each time (the official clients send `Connection: close`), unencrypted and with the
shared-key security trailer (AES-256-CBC + HMAC-SHA256, answer sealed too). Payments of each
kind are interleaved so drift on a shared machine hits them alike.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Row

PASSPHRASE = "bench-shared-key"


def _sale(poi_id: str, amount: str) -> dict[str, Any]:
    return {
        "SaleToPOIRequest": {
            "MessageHeader": {
                "ProtocolVersion": "3.0",
                "MessageClass": "Service",
                "MessageCategory": "Payment",
                "MessageType": "Request",
                "ServiceID": uuid.uuid4().hex[:10],
                "SaleID": "BENCH",
                "POIID": poi_id,
            },
            "PaymentRequest": {
                "SaleData": {
                    "SaleTransactionID": {
                        "TransactionID": uuid.uuid4().hex[:12],
                        "TimeStamp": "2026-12-07T10:00:00Z",
                    }
                },
                "PaymentTransaction": {
                    "AmountsReq": {"Currency": "EUR", "RequestedAmount": float(amount)}
                },
            },
        }
    }


def measure(sim: Any, tmp: Path, sales: int) -> dict[str, list[float]]:
    """Milliseconds per approved payment, by door."""
    from simulators.card.tap import TappedCard
    from simulators.loopback import free_port
    from terminal.ecr.payments import EcrPayments
    from terminal.ecr.server import EcrServer
    from terminal.nexo import certificate
    from terminal.nexo.door import NexoDoor
    from terminal.nexo.security import SharedKey, seal, unseal_response
    from terminal.nexo.server import NexoServer
    from terminal.nexo.store import ServiceStore
    from terminal.payment.factory import build_engine
    from terminal.settings import load_settings

    ecr_port, nexo_port, http_port = free_port(), free_port(), free_port()
    config = sim.terminal_config(
        tmp,
        terminal_id="BENCHNXO",
        devices={"nfc": "none"},
        ecr={"enabled": True, "listen": f"127.0.0.1:{ecr_port}", "token": "bench-token-0123456789"},
        nexo={
            "enabled": True,
            "listen": f"127.0.0.1:{nexo_port}",
            "allow_unencrypted": True,
            "keys": [{"identifier": "bench", "version": 1, "passphrase": PASSPHRASE}],
        },
    )
    settings = load_settings(config, environ={})
    sim.cards(name="visa-credit", balance="1000000.00")
    engine = build_engine(settings, card_capture=TappedCard("visa-credit"))
    made = certificate.create(settings)
    key = SharedKey("bench", 1, PASSPHRASE)
    context = ssl.create_default_context(cafile=str(made.ca))
    poi_id = settings.nexo.effective_poi_id(settings.terminal.terminal_id)
    times: dict[str, list[float]] = {"ecr": [], "plain": [], "sealed": [], "http": []}
    loopback_http = settings.model_copy(
        update={
            "nexo": settings.nexo.model_copy(
                update={"listen": f"127.0.0.1:{http_port}", "allow_plain_http": True}
            )
        }
    )

    async def go() -> None:
        await engine.start(forward=False)
        payments = EcrPayments(engine)
        ecr = EcrServer(settings, engine, payments)
        store = ServiceStore(settings.data_dir / "nexo.sqlite")
        nexo = NexoServer(settings, NexoDoor(settings, engine, payments, store))
        bare = NexoServer(loopback_http, NexoDoor(loopback_http, engine, payments, store))
        await ecr.start()
        await nexo.start()
        await bare.start()
        headers = {"Authorization": "Bearer bench-token-0123456789"}
        try:
            async with (
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{ecr_port}", headers=headers, timeout=30
                ) as till,
                httpx.AsyncClient(verify=context, timeout=30) as pos,
            ):

                async def by_ecr() -> None:
                    body = {"amount": {"value": 1234, "currency": "EUR"}, "method": "nfc"}
                    created = (await till.post("/ecr/v1/payments", json=body)).json()
                    done = (await till.get(f"/ecr/v1/payments/{created['id']}?wait=30")).json()
                    assert done["result"] == "approved", done

                async def plain_http() -> None:
                    body = json.dumps(_sale(poi_id, "12.34")).encode()
                    answer = await till.post(
                        f"http://127.0.0.1:{http_port}/nexo/",
                        content=body,
                        headers={"Connection": "close"},
                    )
                    reply = answer.json()["SaleToPOIResponse"]["PaymentResponse"]
                    assert reply["Response"]["Result"] == "Success", reply

                async def by_nexo(sealed: bool) -> None:
                    document = _sale(poi_id, "12.34")
                    body = json.dumps(document).encode()
                    if sealed:
                        header = document["SaleToPOIRequest"]["MessageHeader"]
                        body = json.dumps({"SaleToPOIRequest": seal(header, body, key)}).encode()
                    answer = await pos.post(
                        f"https://127.0.0.1:{nexo_port}/nexo/",
                        content=body,
                        headers={"Connection": "close"},
                    )
                    reply = answer.json()["SaleToPOIResponse"]
                    if sealed:
                        reply = json.loads(unseal_response(reply, key))["SaleToPOIResponse"]
                    result = reply["PaymentResponse"]["Response"]["Result"]
                    assert result == "Success", reply

                async def sealed_nexo() -> None:
                    await by_nexo(True)

                async def plain_nexo() -> None:
                    await by_nexo(False)

                await by_ecr()  # warm-up: connections, key derivation, first journal rows
                await by_nexo(True)
                for _ in range(sales):
                    for name, run in (
                        ("ecr", by_ecr),
                        ("plain", plain_nexo),
                        ("sealed", sealed_nexo),
                        ("http", plain_http),
                    ):
                        started = time.perf_counter()
                        await run()
                        times[name].append((time.perf_counter() - started) * 1000)
        finally:
            await bare.stop()
            await nexo.stop()
            await ecr.stop()
            await engine.stop()

    asyncio.run(go())
    return times


def _row(
    figure: str, values: list[float], baseline: float, target: str = "", note: str = ""
) -> Row:
    median = statistics.median(values)
    return Row(
        "nexo",
        figure,
        median,
        "ms",
        min(values),
        max(values),
        len(values),
        ratio=f"{median / baseline:.2f} x /ecr/v1",
        target=target,
        note=note,
    )


def run(quick: bool) -> list[Row]:
    from simulators.bank.local import GatewaySim

    with tempfile.TemporaryDirectory() as folder:
        sim = GatewaySim(Path(folder) / "sim")
        try:
            times = measure(sim, Path(folder), 3 if quick else 30)
        finally:
            sim.stop()
    ecr = statistics.median(times["ecr"])
    return [
        Row(
            "nexo",
            "payment via /ecr/v1 (baseline: POST + long-poll GET, plain HTTP)",
            ecr,
            "ms",
            min(times["ecr"]),
            max(times["ecr"]),
            len(times["ecr"]),
            note="tapped card, gateway simulator round trip included",
        ),
        _row(
            "payment via nexo, TLS, unencrypted message",
            times["plain"],
            ecr,
            target="<= 1.2 x",
            note="new TLS connection per payment (Connection: close, as the clients do)",
        ),
        _row(
            "payment via nexo, TLS, shared-key security trailer",
            times["sealed"],
            ecr,
            target="<= 1.2 x",
            note="AES-256-CBC + HMAC-SHA256 both ways; PBKDF2 key cached",
        ),
        _row(
            "payment via nexo, plain HTTP on loopback (the door without TLS)",
            times["http"],
            ecr,
            note="diagnostic: what the door itself adds; TLS is the difference to the rows above",
        ),
    ]
