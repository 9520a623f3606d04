"""NFC figures over nfcpy's UDP front end, the simulated card in its own process.

- card interaction: first SELECT sent to the last card command (READ RECORD / GENERATE AC)
  answered, as the kernel runs it with an activated card (the issue's definition);
- raw APDU exchange: the same command APDUs replayed back-to-back without the kernel on the
  next tap (the card leaves and is activated afresh, as for the kernel), in the same run: the
  baseline; the ratio column is interaction over it. The replay is not made on the kernel's own
  activation: a card that has just answered the same commands answers its first command and its
  cryptogram command 20-35 % faster (measured here: SELECT PPSE 210 vs 351 us, GPO 311 vs
  465 us on a fresh tap; the other commands within 20 us), which is the card's time, not the
  kernel's;
- kernel share: the kernel's own time within the interaction (interaction minus the time spent
  inside `transceive`) over the time inside `transceive`, measured on the same taps; target
  < 10 %;
- kernel before and after: preparing the terminal data before the first SELECT and building the
  card data after the last answer (outside the interaction, reported on its own);
- activation: card in the field to ISO-DEP ready (sense + RATS);
- where the machine has two CPUs or more, the simulated card runs on one and the terminal on
  another: a real card is separate silicon and does not evict the terminal's caches between
  two commands, which a card process sharing the terminal's CPU does (up to 1.7x the kernel's
  own time here). Both the kernel's taps and the raw replay run so; one more row gives the
  share with the card process free to run on the terminal's CPUs, for comparison;
- tap to approval: card detected to approved outcome through the real engine and the local
  gateway simulator (median, p95), when both are installed; its ratio is to the I/O floor
  measured in the same run: what a sale waits for that is not the terminal's own work: the
  raw APDU exchange (visa-credit, the card tapped) + the bank's answer on the wire
  (request written to answer read on the engine's own connection, median of the same sales: the
  network and the bank host's work, its fsync included) + two fsyncs on the journal's disk (the
  signed request before sending, the result before showing it, which no correct sale can skip).
  Target <= 1.8 x the floor. The sale's clock starts when the reader has activated the card
  (the engine's READING_CARD step), so activation is in neither. What is above the floor is
  the terminal's: the kernel, sealing and signing, verifying the answer, the journal's commits
  beyond their fsync, scheduling. The card
  runs on its own CPU as in the rows above (the floor's APDUs are measured so). One more row
  keeps the ratio to a floor without the bank host's work (a raw HTTPS round trip to
  GET /v1/health instead of the bank's answer), which mostly measures the simulator's speed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.harness import Row
from drivers.base import Card
from drivers.nfc import NfcReader
from simulators.loopback import free_port
from terminal.emv.kernel import KernelConfig, read_card
from terminal.emv.terminal_data import Transaction
from terminal.money import Amount
from terminal.settings import Settings

PROFILES = ("visa-credit", "mastercard-debit", "wallet-token")
SIM = [sys.executable, "-m", "terminal", "sim", "card"]


class RecordingCard:
    """Passes APDUs through and keeps them, to replay the same exchange without the kernel."""

    def __init__(self, card: Card) -> None:
        self.card = card
        self.commands: list[bytes] = []
        self.in_card = 0.0
        """Seconds spent inside `transceive`: radio (UDP), ISO-DEP and the card's own work."""
        self.first_sent = 0.0
        self.last_answered = 0.0

    def transceive(self, apdu: bytes) -> bytes:
        self.commands.append(apdu)
        started = time.perf_counter()
        if not self.first_sent:
            self.first_sent = started
        try:
            return self.card.transceive(apdu)
        finally:
            self.last_answered = time.perf_counter()
            self.in_card += self.last_answered - started


def _separate_cpus() -> tuple[set[int], set[int]] | None:
    """(terminal's CPUs, card's CPUs) when there are two CPUs to split, else None."""
    cpus = sorted(os.sched_getaffinity(0))
    return ({cpus[0]}, set(cpus[1:])) if len(cpus) >= 2 else None


def _profile_rows(profile: str, runs: int, *, own_cpu: bool = True) -> list[Row]:
    path = f"udp:localhost:{free_port()}"
    split = _separate_cpus() if own_cpu else None
    everywhere = os.sched_getaffinity(0)
    taps = str(2 * runs + 2)  # each run: the kernel's tap, then the raw replay's
    sim = subprocess.Popen(
        [*SIM, "--profile", profile, "--reader", path, "--taps", taps, "--timeout", "120"],
        stderr=subprocess.DEVNULL,
    )
    if split:  # pinned from here (no preexec_fn: this process may have threads by now);
        # the card is still importing, its worker threads start later and inherit the CPU
        os.sched_setaffinity(sim.pid, split[1])
        os.sched_setaffinity(0, split[0])
    config = KernelConfig.from_settings(Settings())
    reader = NfcReader(path)
    interaction: list[float] = []
    raw: list[float] = []
    in_card: list[float] = []
    activation: list[float] = []
    around: list[float] = []
    try:
        for i in range(runs + 1):
            time.sleep(0.05)  # the card leaves and comes back: it listens again
            started = time.perf_counter()
            card = reader.wait_for_card(10)  # the first wait also covers the process start
            activated = time.perf_counter()
            recording = RecordingCard(card)
            read_card(recording, Transaction(Amount.of(1234, "EUR"), "276"), config)
            done = time.perf_counter()
            card.release()
            time.sleep(0.05)
            card = reader.wait_for_card(10)  # the raw replay gets an activation of its own
            replay_start = time.perf_counter()
            for command in recording.commands:
                card.transceive(command)
            replay_done = time.perf_counter()
            card.release()
            if i == 0:
                continue  # warm-up: imports, first pyemv key derivation
            activation.append(activated - started)
            interaction.append(recording.last_answered - recording.first_sent)
            around.append((done - activated) - interaction[-1])
            raw.append(replay_done - replay_start)
            in_card.append(recording.in_card)
    finally:
        os.sched_setaffinity(0, everywhere)
        reader.close()
        sim.kill()
        sim.wait()
    return _rows(profile, interaction, raw, in_card, activation, around)


def _ms(figure: str, seconds: list[float], **extra: str) -> Row:
    values = [v * 1000 for v in seconds]
    median = statistics.median(values)
    return Row("nfc", figure, median, "ms", min(values), max(values), len(values), **extra)


def _rows(
    profile: str,
    interaction: list[float],
    raw: list[float],
    in_card: list[float],
    activation: list[float],
    around: list[float],
) -> list[Row]:
    share = [(i - c) / c * 100 for i, c in zip(interaction, in_card, strict=True)]
    ratio = statistics.median(interaction) / statistics.median(raw)
    return [
        _ms(
            f"card interaction {profile}",
            interaction,
            ratio=f"{ratio:.2f} x raw APDUs",
            target="500 ms whole tap",
            note="first SELECT to last card command",
        ),
        _ms(f"raw APDU exchange {profile}", raw, note="same APDUs replayed, no kernel"),
        Row(
            "nfc",
            f"kernel share {profile}",
            statistics.median(share),
            "%",
            min(share),
            max(share),
            len(share),
            target="< 10 %",
            note="kernel's own time / time inside transceive, same taps",
        ),
        _ms(
            f"kernel own time {profile}",
            [i - c for i, c in zip(interaction, in_card, strict=True)],
            note="parsing and checks between the card's answers (no I/O)",
        ),
        _ms(
            f"kernel before and after {profile}",
            around,
            note="terminal data before the first SELECT, card data after the last answer",
        ),
        _ms(f"activation {profile}", activation, note="card listening to ISO-DEP ready"),
    ]


def _median_ms(rows: list[Row], figure: str) -> float:
    return next(row.median for row in rows if row.figure == figure)


def _tap_to_approval(runs: int, apdus_ms: float) -> list[Row]:
    """Card detected (READING_CARD) to the approved outcome, through the real engine and the
    gateway simulator on this machine; skipped when either is not installed."""
    try:
        from simulators.bank.local import GatewaySim
        from terminal.payment.api import Progress, Result, SaleRequest, Stage
        from terminal.payment.factory import build_engine
        from terminal.settings import load_settings
        from terminal.wiring.nfc import card_capture
    except ImportError:
        return []
    folder = Path(tempfile.mkdtemp(prefix="bench-nfc-"))
    gateway = GatewaySim(folder / "sim")
    reader = f"udp:localhost:{free_port()}"
    config = gateway.terminal_config(folder, terminal_id="BENCHNFC", devices={"nfc": reader})
    card = subprocess.Popen(
        [*SIM, "--profile", "visa-credit", "--reader", reader, "--taps", str(runs + 1)],
        stderr=subprocess.DEVNULL,
    )
    split = _separate_cpus()
    everywhere = os.sched_getaffinity(0)
    if split:  # as for the floor's APDUs: the card is separate silicon
        os.sched_setaffinity(card.pid, split[1])
        os.sched_setaffinity(0, split[0])
    settings = load_settings(config, environ={})
    times: list[float] = []
    tapped: list[float] = []
    https: list[float] = []
    bank: list[float] = []
    wire: list[float] = []
    syncs: list[float] = []

    def progress(step: Progress) -> None:
        if step.stage is Stage.READING_CARD:
            tapped.append(time.perf_counter())

    async def sales() -> None:
        capture = card_capture(settings)
        engine = build_engine(settings, card_capture=capture)
        client = getattr(engine.bank, "client", None)
        async with engine:
            for i in range(runs + 1):
                tapped.clear()
                request = SaleRequest(Amount.of(100 + i, "EUR"))
                outcome = await engine.sale(request, progress, asyncio.Event())
                finished = time.perf_counter()
                if outcome.result is not Result.APPROVED:
                    raise RuntimeError(f"sale {i} ended {outcome.result}: {outcome.message}")
                if i:
                    times.append(finished - tapped[0])
                    if engine.last_timing is not None:
                        bank.append(engine.last_timing.bank_s)
                    if client is not None:
                        wire.append(client.last_exchange_s)
                    # two fsyncs after each sale, so a neighbour's disk load weighs on the
                    # floor as it weighed on that sale
                    syncs.extend(_raw_syncs(settings.data_dir, 2))
                await asyncio.sleep(0.05)
        https.extend(await _raw_https(settings, runs))

    try:
        asyncio.run(sales())
    finally:
        os.sched_setaffinity(0, everywhere)
        card.kill()
        card.wait()
        gateway.stop()
        shutil.rmtree(folder, ignore_errors=True)
    values = sorted(t * 1000 for t in times)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    https_ms = statistics.median(https) * 1000
    bank_ms = statistics.median(bank) * 1000
    wire_ms = statistics.median(wire) * 1000
    sync_ms = statistics.median(syncs) * 1000
    floor = apdus_ms + wire_ms + 2 * sync_ms
    no_bank_floor = apdus_ms + https_ms
    median = statistics.median(values)
    return [
        Row(
            "nfc",
            "tap to approval (online)",
            median,
            "ms",
            values[0],
            values[-1],
            len(values),
            ratio=f"{median / floor:.2f} x I/O floor",
            target="<= 1.8 x I/O floor; 500 ms whole tap",
            note=f"card detected to approved, engine + local gateway simulator (TLS, JOSE); "
            f"p95 {p95:.0f} ms; the terminal's own share {median - floor:.2f} ms",
        ),
        _ms(
            "I/O floor of a tap (raw APDUs + bank's answer on the wire + 2 fsyncs)",
            [floor / 1000],
            ratio="baseline",
            note=f"{apdus_ms:.2f} + {wire_ms:.2f} + 2 x {sync_ms:.2f} ms, "
            f"medians of this run (send to verified answer: {bank_ms:.2f} ms)",
        ),
        Row(
            "nfc",
            "tap to approval over a floor without the bank host's work",
            median / no_bank_floor,
            "x",
            values[0] / no_bank_floor,
            values[-1] / no_bank_floor,
            len(values),
            note=f"floor {no_bank_floor:.2f} ms = "
            f"{apdus_ms:.2f} APDUs + {https_ms:.2f} raw HTTPS round trip (GET /v1/health); the "
            "simulator's verify, decrypt, ARQC check, booking and fsync count against the "
            "terminal here",
        ),
    ]


def _raw_syncs(folder: Path, count: int) -> list[float]:
    """Seconds of one small write + fsync on the journal's file system, `count` times."""
    probe = folder / "bench-fsync.tmp"
    times = []
    with probe.open("wb") as handle:
        for _ in range(count):
            handle.write(b"x" * 4096)
            start = time.perf_counter()
            handle.flush()
            os.fsync(handle.fileno())
            times.append(time.perf_counter() - start)
    probe.unlink()
    return times


async def _raw_https(settings: Settings, count: int) -> list[float]:
    """Seconds per GET /v1/health on one warm keep-alive connection of the terminal's client."""
    from terminal.gateway.client import GatewayClient
    from terminal.gateway.jose import GatewayKeys

    client = GatewayClient(settings, GatewayKeys.from_settings(settings.gateway))
    url = f"{client.urls[0]}/v1/health"
    try:
        await client._exchange("GET", url, connect_s=5.0, read_s=5.0)  # TLS handshake
        values = []
        for _ in range(count):
            start = time.perf_counter()
            await client._exchange("GET", url, connect_s=5.0, read_s=5.0)
            values.append(time.perf_counter() - start)
        return values
    finally:
        await client.aclose()


def run(quick: bool) -> list[Row]:
    runs = 5 if quick else 30
    rows: list[Row] = []
    for profile in PROFILES:
        rows.extend(_profile_rows(profile, runs))
    shared = _profile_rows(PROFILES[0], runs, own_cpu=False)
    rows.extend(
        replace(row, figure=f"{row.figure}, card on the terminal's CPUs", target="")
        for row in shared
        if row.figure.startswith("kernel share")
    )
    rows.extend(
        _tap_to_approval(
            runs,
            _median_ms(rows, f"raw APDU exchange {PROFILES[0]}"),
        )
    )
    return rows
