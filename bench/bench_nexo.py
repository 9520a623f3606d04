"""nexo Terminal API: what a payment costs over the nexo door compared with `/ecr/v1`.

One real engine (a card tapped without a reader, the gateway simulator) behind both doors, so
the difference is the door. The till is a POS program in a process of its own
(`bench/nexo_till.js`), as in a shop: nexo payments are sent by Adyen's official Node.js
library (the one the tests use, installed by `make setup`), which makes a new TLS connection for
every request, unencrypted and with the shared-key security trailer (AES-256-CBC + HMAC-SHA256,
answer sealed too); `/ecr/v1` is a POST and a long-poll GET on plain HTTP on a kept-alive
connection (its deployment: loopback on the till's machine). Payments of each kind are
interleaved so drift on a shared machine hits them alike.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import Row

PASSPHRASE = "bench-shared-key"
TOKEN = "bench-token-0123456789"
REPO = Path(__file__).resolve().parents[1]
TILL = REPO / "bench" / "nexo_till.js"
NODE_MODULES = REPO / "tests" / "integration" / "nexo_client" / "node_modules"


def node() -> str:
    """The Node.js the till runs on; the set-up installs it and the official client."""
    found = shutil.which("node")
    if found is None or not (NODE_MODULES / "@adyen" / "api-library").is_dir():
        raise RuntimeError(
            "the nexo benchmark needs node and the official client: run `make setup`"
        )
    return found


def measure(sim: Any, tmp: Path, sales: int) -> dict[str, Any]:
    """What the till process measured: latency per payment by kind (ms), and the terminal's and
    the till's CPU time per payment by kind (ms)."""
    from simulators.card.tap import TappedCard
    from simulators.loopback import free_port, loopback_address_with
    from terminal.ecr.payments import EcrPayments
    from terminal.ecr.server import EcrServer
    from terminal.nexo import certificate
    from terminal.nexo.door import NexoDoor
    from terminal.nexo.server import NexoServer
    from terminal.nexo.store import ServiceStore
    from terminal.payment.factory import build_engine
    from terminal.settings import load_settings

    ecr_port, http_port = free_port(), free_port()
    nexo_address = loopback_address_with(8443)  # the official clients always dial 8443
    config = sim.terminal_config(
        tmp,
        terminal_id="BENCHNXO",
        devices={"nfc": "none"},
        ecr={"enabled": True, "listen": f"127.0.0.1:{ecr_port}", "token": TOKEN},
        nexo={
            "enabled": True,
            "listen": f"{nexo_address}:8443",
            "environment": "test",
            "allow_unencrypted": True,
            "keys": [{"identifier": "bench", "version": 1, "passphrase": PASSPHRASE}],
        },
    )
    settings = load_settings(config, environ={})
    sim.cards(name="visa-credit", balance="1000000.00")
    engine = build_engine(settings, card_capture=TappedCard("visa-credit"))
    made = certificate.create(settings)
    loopback_http = settings.model_copy(
        update={
            "nexo": settings.nexo.model_copy(
                update={"listen": f"127.0.0.1:{http_port}", "allow_plain_http": True}
            )
        }
    )
    orders = {
        "sales": sales,
        "ca": str(made.ca),
        "poiId": settings.nexo.effective_poi_id(settings.terminal.terminal_id),
        "key": {
            "KeyIdentifier": "bench",
            "KeyVersion": 1,
            "Passphrase": PASSPHRASE,
            "AdyenCryptoVersion": 1,
        },
        "ecrToken": TOKEN,
        "terminalPid": os.getpid(),
        "ecrUrl": f"http://127.0.0.1:{ecr_port}",
        "nexoEndpoint": f"https://{nexo_address}",
        "httpUrl": f"http://127.0.0.1:{http_port}/nexo/",
    }

    async def go() -> dict[str, Any]:
        await engine.start(forward=False)
        payments = EcrPayments(engine)
        ecr = EcrServer(settings, engine, payments)
        store = ServiceStore(settings.data_dir / "nexo.sqlite")
        nexo = NexoServer(settings, NexoDoor(settings, engine, payments, store))
        bare = NexoServer(loopback_http, NexoDoor(loopback_http, engine, payments, store))
        await ecr.start()
        await nexo.start()
        await bare.start()
        try:
            till = await asyncio.create_subprocess_exec(
                node(),
                str(TILL),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
            )
            out, _ = await till.communicate(json.dumps(orders).encode())
            if till.returncode != 0:
                raise RuntimeError(f"the bench till failed (exit {till.returncode})")
            report: dict[str, Any] = json.loads(out)
            return report
        finally:
            await bare.stop()
            await nexo.stop()
            await ecr.stop()
            await engine.stop()

    return asyncio.run(go())


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


KINDS = {
    "plain": ("nexo, TLS, unencrypted message (official client)", "<= 1.2 x"),
    "sealed": ("nexo, TLS, shared-key security trailer (official client)", "<= 1.2 x"),
    "sealedShipped": ("nexo, TLS, shared key, the client's PBKDF2 as shipped", ""),
    "http": ("nexo door on plain HTTP (diagnostic: no TLS)", ""),
}
NOTES = {
    "plain": "new TLS connection per payment, as the clients make",
    "sealed": "AES-256-CBC + HMAC-SHA256 both ways; the till remembers its derived key",
    "sealedShipped": "the library derives 640 bytes of PBKDF2 twice per request: till's cost",
    "http": "what the door adds without TLS (the official clients cannot send plain HTTP)",
}


CPU_ROWS = (
    ("ecr", "/ecr/v1"),
    ("plain", "nexo unencrypted"),
    ("sealed", "nexo sealed"),
    ("http", "nexo door on plain HTTP"),
)


def run(quick: bool) -> list[Row]:
    from simulators.bank.local import GatewaySim

    with tempfile.TemporaryDirectory() as folder:
        sim = GatewaySim(Path(folder) / "sim")
        try:
            report = measure(sim, Path(folder), 3 if quick else 30)
        finally:
            sim.stop()
    latency: dict[str, list[float]] = report["latency"]
    terminal_cpu: dict[str, float] = report["terminal_cpu"]
    till_cpu: dict[str, float] = report["till_cpu"]
    ecr = statistics.median(latency["ecr"])
    rows = [
        Row(
            "nexo",
            "payment via /ecr/v1 (baseline: POST + long-poll GET, plain HTTP)",
            ecr,
            "ms",
            min(latency["ecr"]),
            max(latency["ecr"]),
            len(latency["ecr"]),
            note="tapped card, gateway simulator round trip included; till: Node fetch",
        )
    ]
    rows += [
        _row(f"payment via {figure}", latency[kind], ecr, target=target, note=NOTES[kind])
        for kind, (figure, target) in KINDS.items()
    ]
    rows += [
        Row(
            "nexo",
            f"terminal CPU per payment, {name}",
            terminal_cpu[kind],
            "ms",
            terminal_cpu[kind],
            terminal_cpu[kind],
            1,
            ratio=""
            if kind == "ecr"
            else f"{terminal_cpu[kind] / terminal_cpu['ecr']:.2f} x /ecr/v1",
            note=f"mean, all threads; the till's own CPU: {till_cpu[kind]:.1f} ms",
        )
        for kind, name in CPU_ROWS
    ]
    return rows
