"""Operator screen: time from launch to a ready sale screen, and memory after 1,000 sales.

* launch: `posterm run` started in a real terminal (tmux, 80 × 24) until the sale screen's
  prompt is on the captured pane; baseline: a bare Textual app showing one line, the same way.
* memory: the screen (headless) on the real engine and the gateway simulator; 1,000 sales are
  driven through the engine directly (kernel + simulated card in process, no radio timing),
  each outcome shown on the sale screen; RSS of the process after them, against its RSS after
  the warm-up sales (the growth). Each run is a fresh process (`bench._sales_rss`) holding only
  the operator app: once with the bank simulator in its own process (the terminal's figure,
  target <= 120 MiB), once with it served from a thread of the same process (what it adds).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import Row

REPO = Path(__file__).resolve().parents[1]
_RUNS = itertools.count()
READY_TEXT = "Type the amount"
BARE_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Bare(App):\n"
    "    def compose(self):\n"
    f"        yield Static({READY_TEXT!r})\n"
    "Bare().run()\n"
)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def time_to_text(command: list[str], text: str, env: dict[str, str]) -> float:
    """Seconds from starting `command` in an 80 × 24 tmux pane until `text` is on it."""
    socket_name = f"posterm-bench-{os.getpid()}-{next(_RUNS)}"
    tmux = ["tmux", "-L", socket_name]
    shell = " ".join(f"'{part}'" for part in command)
    start = time.perf_counter()
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "bench", shell],
        check=True,
        env=env,
        cwd=REPO,
    )
    try:
        deadline = start + 60
        while time.perf_counter() < deadline:
            pane = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "bench"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if text in pane:
                return time.perf_counter() - start
            time.sleep(0.02)
        raise RuntimeError(f"{text!r} never appeared; last pane:\n{pane}")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)


class CardInField:
    """A reader with the simulated card always in the field (in process, no radio)."""

    def __init__(self, profile: str) -> None:
        from simulators.card.present import simulated_card

        self.card = simulated_card(profile)

    def wait_for_card(self, timeout: float) -> Any:
        self.card.reset()
        return self

    def transceive(self, apdu: bytes) -> bytes:
        answer = self.card.handle(apdu)
        return answer if answer is not None else b"\x6f\x00"

    def cancel(self) -> None:
        return None

    def close(self) -> None:
        return None


async def sales_on_screen(settings: Any, count: int) -> tuple[float, float, float]:
    """(RSS after warm-up, RSS after `count` sales, seconds per sale)."""
    from terminal.money import Amount
    from terminal.payment.api import SaleRequest
    from terminal.payment.factory import build_engine
    from terminal.ui.app import build_app
    from terminal.ui.messages import SaleEnded
    from terminal.wiring.nfc import NfcCardCapture

    capture = NfcCardCapture(settings, reader=CardInField("visa-credit"))
    engine = build_engine(settings, card_capture=capture)
    app = build_app(settings, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

        async def one(minor: int) -> None:
            outcome = await engine.sale(
                SaleRequest(Amount.of(minor, "EUR")), lambda step: None, asyncio.Event()
            )
            if outcome.result.value != "approved":
                raise RuntimeError(f"sale not approved: {outcome}")
            app.sale_screen.post_message(SaleEnded(outcome))

        for minor in range(100, 120):  # warm-up: caches, first connections
            await one(minor)
        await pilot.pause()
        before = rss_mib()
        started = time.perf_counter()
        for index in range(count):
            await one(100 + index % 50)  # 1.00-1.49: the card's balance lasts
        per_sale = (time.perf_counter() - started) / count
        await pilot.pause()
        after = rss_mib()
        await app.shutdown()
    return before, after, per_sale


def sales_rss(config: Path, count: int, bank: tuple[Path, int, int] | None = None) -> Any:
    """{before, after, per_sale} of `count` sales in a fresh process (see `bench._sales_rss`)."""
    extra = ["--bank", str(bank[0]), str(bank[1]), str(bank[2])] if bank else []
    done = subprocess.run(
        [sys.executable, "-m", "bench._sales_rss", str(config), str(count), *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"RSS run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rss_row(figure: str, runs: list[Any], count: int, target: str = "", extra: str = "") -> Row:
    after = [r["after"] for r in runs]
    before = statistics.median(r["before"] for r in runs)
    median = statistics.median(after)
    per_sale = statistics.median(r["per_sale"] for r in runs) * 1000
    return Row(
        "ui",
        figure,
        median,
        "MiB",
        min(after),
        max(after),
        len(runs),
        ratio=f"{median / before:.3f} x after warm-up (+{median - before:.1f} MiB)",
        target=target,
        note=f"{extra}{per_sale:.1f} ms/sale; warm-up RSS {before:.1f} MiB",
    )


def run(quick: bool) -> list[Row]:
    if shutil.which("tmux") is None:
        return []
    from simulators.bank.local import GatewaySim

    rows: list[Row] = []
    runs = 2 if quick else 5
    rss_runs = 1 if quick else 3
    count = 100 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="posterm-bench-ui-") as folder:
        base = Path(folder)
        sim = GatewaySim(base / "sim")
        try:
            config = sim.terminal_config(
                base,
                terminal_id="BENCHUI1",
                devices={"nfc": "none"},
            )
            sim.fraud(enabled=False)  # 1,000 taps of one card in minutes is the point here
            sim.cards(name="visa-credit", balance="1000000.00")
            env = {**os.environ, "POSTERM_CONFIG": str(config), "TERM": "xterm-256color"}
            bare_app = base / "bare_app.py"
            bare_app.write_text(BARE_APP, encoding="utf-8")
            launch: list[float] = []
            bare: list[float] = []
            for _ in range(runs):  # interleaved: both see the same machine load
                launch.append(
                    time_to_text([sys.executable, "-m", "terminal", "run"], READY_TEXT, env)
                )
                bare.append(time_to_text([sys.executable, str(bare_app)], READY_TEXT, env))
            median = statistics.median(launch)
            rows.append(
                Row(
                    "ui",
                    "launch to ready sale screen (posterm run, 80x24)",
                    median,
                    "s",
                    min(launch),
                    max(launch),
                    runs,
                    ratio=f"{median / statistics.median(bare):.2f} x bare Textual app",
                    target="<= 1.0 s",
                    note=f"bare app {statistics.median(bare):.3f} s",
                )
            )
            alone = [sales_rss(config, count) for _ in range(rss_runs)]
        finally:
            sim.stop()
        shared = [
            sales_rss(config, count, (sim.data_dir, sim.port, sim.admin_port))
            for _ in range(rss_runs)
        ]
    rows.append(
        _rss_row(
            f"RSS of the operator app after {count} sales (bank simulator in its own process)",
            alone,
            count,
            target="<= 120 MiB",
        )
    )
    added = statistics.median(r["after"] for r in shared) - rows[-1].median
    rows.append(
        _rss_row(
            f"RSS after {count} sales, bank simulator in the same process",
            shared,
            count,
            extra=f"the simulator adds {added:+.1f} MiB; ",
        )
    )
    return rows
