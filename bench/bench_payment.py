"""Payment core figures: durable journal commits, store-and-forward backlog drain, and the
engine's own share of an online sale. Everything runs against the real SQLite journal (WAL,
synchronous=FULL) and the real gateway simulator process on loopback.

- journal, 1 writer: committed state changes per second when every change waits for its own
  fsync (what one sale at a time sees; bound by the disk's fsync rate, measured alongside).
- journal, 16 writers: the same with 16 concurrent callers sharing commits (group commit).
- backlog drain: 5,000 queued advices forwarded to the simulator; counts in the ledger prove
  none lost and none duplicated.
- engine overhead: time of an online sale not spent waiting for the card or the gateway, as a
  share of the whole sale.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import Row
from terminal.money import Amount
from terminal.payment.bank import OfflineApproval, Operation
from terminal.payment.journal import Change, Journal
from terminal.payment.states import Event

AREA = "payment"


def _fsync_rate(folder: Path, count: int = 200) -> float:
    path = folder / "fsync.probe"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        return count / (time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()


def _sale_changes(journal: Journal, prefix: str, count: int) -> int:
    """`count` sales through create → send → approve: three committed changes each."""
    amount = Amount.of(100, "EUR")
    for n in range(count):
        txn_id = f"{prefix}-{n}"
        journal.create(txn_id, "sale", amount, entry="nfc")
        journal.sign_and_apply(Change(txn_id, Event.SEND), lambda seq, at: b"x" * 700)
        journal.apply(Change(txn_id, Event.APPROVE, {"code": "00"}))
    return count * 3


def journal_rate(writers: int, sales_each: int) -> float:
    """Committed state changes per second with `writers` concurrent callers."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("POSTERM_BENCH_DIR")) as folder:
        journal = Journal.open(Path(folder))
        try:
            done: list[int] = []
            threads = [
                threading.Thread(
                    target=lambda w=w: done.append(_sale_changes(journal, f"w{w}", sales_each))
                )
                for w in range(writers)
            ]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - start
            assert len(journal.find()) == writers * sales_each
            return sum(done) / elapsed
        finally:
            journal.close()


def _median_row(
    figure: str, values: list[float], unit: str, target: str = "", ratio: str = "", note: str = ""
) -> Row:
    return Row(
        AREA,
        figure,
        statistics.median(values),
        unit,
        min(values),
        max(values),
        len(values),
        ratio=ratio,
        target=target,
        note=note,
    )


# -- store-and-forward backlog ---------------------------------------------------------------


def _queue_advices(engine: Any, count: int, profile: str) -> list[str]:
    """Commit `count` signed advices for real card data, as offline approvals would."""
    from simulators.card.tap import card_data

    bank, journal, fingerprint = engine.bank, engine.journal, engine.sales.fingerprint
    amount = Amount.of(100, "EUR")
    floor = engine.limits.floor_limit.minor
    ids: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for _ in range(n):
            txn_id = bank.new_id()
            card = card_data(profile, amount)
            advice = Operation(
                "advice", txn_id, amount, "nfc", card=card, offline=OfflineApproval(floor)
            )

            def sign(seq: int, at: datetime, advice: Operation = advice) -> bytes:
                return bank.encode(advice, seq, at)

            journal.create(
                txn_id,
                "sale",
                amount,
                entry="nfc",
                fields={"masked_pan": card.masked_pan, "fingerprint": fingerprint(card.pan)},
            )
            journal.sign_and_apply(Change(txn_id, Event.SEND), lambda seq, at: b"unsent")
            journal.enqueue(
                Change(txn_id, Event.APPROVE_OFFLINE, {"offline": True}),
                "advice",
                txn_id,
                amount,
                sign,
            )
            with lock:
                ids.append(txn_id)

    shares = [count // 16 + (1 if n < count % 16 else 0) for n in range(16)]
    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ids


def _cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by this process or by `pid`."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backlog_drain(
    sim: Any, tmp: Path, count: int, runs: int
) -> list[tuple[float, int, int, int, float, float]]:
    """(advices/s, queued, in ledger, duplicates, terminal and simulator CPU ms per advice)
    per run, each with a fresh terminal."""
    from terminal.payment.factory import build_engine
    from terminal.settings import load_settings

    results = []
    for run in range(runs):
        terminal_id = f"BENCH{run:03d}"
        config = sim.terminal_config(tmp, terminal_id=terminal_id, devices={"nfc": "none"})
        settings = load_settings(config, environ={})
        sim.cards(name="wallet-token", balance="1000000.00")
        engine = build_engine(settings)
        ids = _queue_advices(engine, count, "wallet-token")

        cpu: list[float] = []

        async def drain(engine: Any = engine, cpu: list[float] = cpu) -> float:
            await engine.start(forward=False)
            try:
                cpu.extend((_cpu_s(), _cpu_s(sim.process.pid)))
                start = time.perf_counter()
                report = await engine.flush()
                elapsed = time.perf_counter() - start
                cpu[0], cpu[1] = _cpu_s() - cpu[0], _cpu_s(sim.process.pid) - cpu[1]
                assert report.left == 0, report
                return float(report.sent) / elapsed
            finally:
                await engine.stop()

        rate = asyncio.run(drain())
        ledger = [e["id"] for e in sim.ledger(terminal_id) if e["type"] == "advice"]
        duplicates = len(ledger) - len(set(ledger))
        assert set(ledger) == set(ids), "an advice was lost or one the terminal never queued"
        per_advice = [1000 * seconds / count for seconds in cpu]
        results.append((rate, len(ids), len(ledger), duplicates, *per_advice))
    return results


# -- engine overhead per online sale ----------------------------------------------------------


def engine_overhead(sim: Any, tmp: Path, sales: int) -> tuple[list[float], list[float]]:
    """Per sale: (engine share of the sale, whole sale in ms)."""
    from simulators.card.tap import TappedCard
    from terminal.payment.api import SaleRequest
    from terminal.payment.factory import build_engine
    from terminal.settings import load_settings

    config = sim.terminal_config(tmp, terminal_id="BENCHOVH", devices={"nfc": "none"})
    settings = load_settings(config, environ={})
    sim.cards(name="visa-credit", balance="1000000.00")
    engine = build_engine(settings, card_capture=TappedCard("visa-credit"))
    shares: list[float] = []
    totals: list[float] = []

    async def go() -> None:
        await engine.start(forward=False)
        try:
            for _ in range(sales):
                outcome = await engine.sale(
                    SaleRequest(Amount.of(1234, "EUR")), lambda step: None, asyncio.Event()
                )
                assert outcome.result.value == "approved", outcome.message
                timing = engine.last_timing
                assert timing is not None
                shares.append(timing.engine_s / timing.total_s)
                totals.append(timing.total_s * 1000)
        finally:
            await engine.stop()

    asyncio.run(go())
    return shares, totals


def _with_sim(body: Callable[[Any, Path], list[Row]]) -> list[Row]:
    from simulators.bank.local import GatewaySim

    with tempfile.TemporaryDirectory() as folder:
        sim = GatewaySim(Path(folder) / "sim")
        try:
            return body(sim, Path(folder))
        finally:
            sim.stop()


def _parts() -> set[str]:
    """Which figures to measure: POSTERM_BENCH_PARTS=journal,drain,overhead (default: all)."""
    chosen = os.environ.get("POSTERM_BENCH_PARTS", "").replace(" ", "")
    return set(chosen.split(",")) if chosen else {"journal", "drain", "overhead"}


def run(quick: bool) -> list[Row]:
    parts = _parts()
    rows: list[Row] = []
    if "journal" in parts:
        rows.extend(_journal_rows(quick))
    if parts & {"drain", "overhead"}:
        rows.extend(_with_sim(lambda sim, tmp: _sim_rows(sim, tmp, quick, parts)))
    return rows


def _journal_rows(quick: bool) -> list[Row]:
    runs = 2 if quick else 5
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        fsync = [_fsync_rate(Path(folder)) for _ in range(runs)]
    one = [journal_rate(1, 40 if quick else 150) for _ in range(runs)]
    many = [journal_rate(16, 10 if quick else 40) for _ in range(runs)]
    fsync_median = statistics.median(fsync)
    rows.append(_median_row("disk fsync (4 KiB write + fsync)", fsync, "/s"))
    rows.append(
        _median_row(
            "journal committed state changes, 1 writer",
            one,
            "/s",
            ratio=f"{statistics.median(one) / fsync_median:.2f} x fsync rate",
            note="each change waits for its own fsync",
        )
    )
    rows.append(
        _median_row(
            "journal committed state changes, 16 writers",
            many,
            "/s",
            target=">= 2000/s",
            ratio=f"{statistics.median(many) / statistics.median(one):.1f} x 1 writer",
            note="group commit: concurrent changes share an fsync",
        )
    )

    return rows


def _sim_rows(sim: Any, tmp: Path, quick: bool, parts: set[str]) -> list[Row]:
    result: list[Row] = []
    if "drain" in parts:
        count = 500 if quick else 5000
        drains = backlog_drain(sim, tmp, count, 1 if quick else 3)
        rates = [d[0] for d in drains]
        counts = ", ".join(f"{q} queued / {n} in ledger / {d} dup" for _, q, n, d, _, _ in drains)
        terminal_ms = statistics.median(d[4] for d in drains)
        sim_ms = statistics.median(d[5] for d in drains)
        counts += (
            f"; CPU per advice: terminal {terminal_ms:.2f} ms, simulator {sim_ms:.2f} ms "
            "(both share the 2 cores)"
        )
        result.append(
            _median_row(
                f"backlog drain, {count} advices to the simulator",
                rates,
                "advices/s",
                target=">= 300/s",
                ratio=f"{statistics.median(rates):.0f} x jPOS default pace (1/s)",
                note=counts,
            )
        )
    if "overhead" in parts:
        shares, totals = engine_overhead(sim, tmp, 20 if quick else 100)
        result.append(
            _median_row(
                "engine overhead per online sale",
                [s * 100 for s in shares],
                "% of sale",
                note=f"median sale {statistics.median(totals):.1f} ms "
                "(card read + gateway round trip + engine)",
            )
        )
    return result
