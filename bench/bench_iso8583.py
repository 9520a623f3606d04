"""ISO 8583 link: sale round trips against the simulator's ISO 8583 listener next to the JOSE
link in the same run, the advice drain rate over ISO 8583, and the codec's cost per message.

- sale round trips per second through the real engine and a simulated card, one after the
  other, over each link of the same simulator process (ISO 8583 over TLS vs posterm-v1 JOSE
  over HTTPS): the ratio is ISO 8583 / JOSE.
- advice drain: queued offline approvals forwarded as 0220s by `engine.flush()`; the ledger
  proves none lost (target ≥ 300/s, like the JOSE link).
- codec cost per message: encode a 0200 with its MAC and decode + verify a 0210, against bare
  pyiso8583 encode + decode of the same two messages (the cost of the dialect checks and MAC).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import iso8583

from bench.harness import Row, measure
from terminal.iso8583.codec import Message, decode, encode, verify_mac
from terminal.iso8583.dialect import load_dialect

AREA = "iso8583"
MAC_KEY = bytes(range(16))


def _codec_rows(quick: bool) -> list[Row]:
    dialect = load_dialect()
    sale = Message(
        "0200",
        {
            2: "4761731000000010",
            3: "000000",
            4: "1234",
            7: "1207101112",
            11: "000042",
            12: "101112",
            13: "1207",
            14: "2512",
            22: "071",
            25: "00",
            32: "00000000001",
            35: "4761731000000010=25122010000000000",
            41: "TERM0001",
            42: "SHOP00001",
            43: "POSTERM DEMO SHOP".ljust(25) + "BERLIN".ljust(13) + "DE",
            49: "978",
            55: bytes(120),
        },
    )
    answer = Message("0210", {3: "000000", 4: "1234", 11: "000042", 39: "00", 41: "TERM0001"})
    answer_body = encode(answer, dialect, MAC_KEY)
    count = 200 if quick else 2000
    runs = 3 if quick else 7

    def ours() -> float:
        start = time.perf_counter()
        for _ in range(count):
            encode(sale, dialect, MAC_KEY)
            verify_mac(answer_body, decode(answer_body, dialect), MAC_KEY)
        return 1e6 * (time.perf_counter() - start) / count

    raw_doc = {"t": "0200", **{str(n): _plain(v, n) for n, v in sale.fields.items()}}
    raw_spec = dict(dialect.spec)
    raw_body = encode(answer, dialect)  # the same 0210, without its MAC

    def bare() -> float:
        start = time.perf_counter()
        for _ in range(count):
            iso8583.encode(dict(raw_doc), raw_spec)
            iso8583.decode(raw_body, raw_spec)
        return 1e6 * (time.perf_counter() - start) / count

    median, low, high = measure(ours, runs)
    base, _, _ = measure(bare, runs)
    return [
        Row(
            AREA,
            "codec: 0200 encode+MAC and 0210 decode+verify",
            median,
            "µs/message",
            low,
            high,
            runs,
            ratio=f"{median / base:.2f} x bare pyiso8583",
        )
    ]


def _plain(value: str | bytes, number: int) -> str:
    """The field as pyiso8583 takes it (padding done, hex for binary)."""
    dialect = load_dialect()
    fmt = dialect.fields[number]
    if isinstance(value, bytes):
        return value.hex()
    if fmt.fixed:
        return value.rjust(fmt.length, "0") if fmt.kind == "n" else value.ljust(fmt.length)
    return value


async def _sales(engine: Any, count: int) -> float:
    from simulators.card.tap import TappedCard
    from terminal.money import Amount
    from terminal.payment.api import Result, SaleRequest

    engine.card_capture = TappedCard("visa-credit")
    await engine.start(forward=False)
    await engine.link_checked()
    try:
        start = time.perf_counter()
        for _ in range(count):
            outcome = await engine.sale(
                SaleRequest(Amount.of(100, "EUR")), lambda step: None, asyncio.Event()
            )
            assert outcome.result is Result.APPROVED, outcome.message
        return count / (time.perf_counter() - start)
    finally:
        await engine.stop()


def _sim_rows(quick: bool) -> list[Row]:
    from bench.bench_payment import _queue_advices
    from simulators.bank.local import GatewaySim
    from simulators.loopback import free_port
    from terminal.payment.factory import build_engine
    from terminal.settings import load_settings

    sales = 20 if quick else 200
    advices = 100 if quick else 2000
    runs = 1 if quick else 3
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        sim = GatewaySim(tmp / "sim", extra_args=("--iso8583-listen", f"127.0.0.1:{port}"))
        try:
            sim.cards(name="visa-credit", balance="100000000.00")
            sim.cards(name="wallet-token", balance="100000000.00")
            iso = {"host": f"127.0.0.1:{port}", "ca_file": str(sim.ca_file), "timeout_s": 10}
            iso_rates, jose_rates, drains = [], [], []
            for run in range(runs):
                for protocol, rates in (("iso8583", iso_rates), ("posterm-v1", jose_rates)):
                    config = sim.terminal_config(
                        tmp,
                        terminal_id=f"B{protocol[:3].upper()}{run:04d}",
                        devices={"nfc": "none"},
                        offline={"max_count": 10000, "max_total": "1000000.00"},
                        gateway={"protocol": protocol},
                        iso8583=iso,
                    )
                    engine = build_engine(load_settings(config, environ={}))
                    rates.append(asyncio.run(_sales(engine, sales)))
                terminal_id = f"BADV{run:04d}"
                config = sim.terminal_config(
                    tmp,
                    terminal_id=terminal_id,
                    devices={"nfc": "none"},
                    gateway={"protocol": "iso8583"},
                    iso8583=iso,
                )
                engine = build_engine(load_settings(config, environ={}))
                queued = _queue_advices(engine, advices, "wallet-token")
                drains.append(asyncio.run(_drain(engine)))
                arrived = [e for e in sim.ledger(terminal_id) if e["type"] == "advice"]
                assert len(arrived) == len(queued), "an advice was lost or sent twice"
        finally:
            sim.stop()
    iso_median, jose_median = statistics.median(iso_rates), statistics.median(jose_rates)
    return [
        Row(
            AREA,
            "sale round trips, ISO 8583 over TLS (engine + card + simulator)",
            iso_median,
            "sales/s",
            min(iso_rates),
            max(iso_rates),
            runs,
            ratio=f"{iso_median / jose_median:.2f} x the JOSE link",
        ),
        Row(
            AREA,
            "sale round trips, posterm-v1 JOSE over HTTPS (same run)",
            jose_median,
            "sales/s",
            min(jose_rates),
            max(jose_rates),
            runs,
        ),
        Row(
            AREA,
            f"advice drain over ISO 8583 ({advices} queued 0220s)",
            statistics.median(drains),
            "advices/s",
            min(drains),
            max(drains),
            runs,
            target=">= 300/s",
        ),
    ]


async def _drain(engine: Any) -> float:
    await engine.start(forward=False)
    try:
        start = time.perf_counter()
        report = await engine.flush()
        elapsed = time.perf_counter() - start
        assert report.left == 0, report
        return float(report.sent) / elapsed
    finally:
        await engine.stop()


def run(quick: bool) -> list[Row]:
    return _codec_rows(quick) + _sim_rows(quick)
