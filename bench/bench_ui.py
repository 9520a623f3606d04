"""Operator screen: time from launch to a ready sale screen, and memory after 1,000 sales.

* launch: `posterm run` started in a real terminal (tmux, 80 × 24) until the sale screen's
  prompt is on the captured pane; baseline: a bare Textual app showing one line, the same way.
* memory: the screen (headless) on the real engine and the gateway simulator; 1,000 sales are
  driven through the engine directly (kernel + simulated card in process, no radio timing),
  each outcome shown on the sale screen; RSS of the process after them, and its growth.
"""

from __future__ import annotations

import asyncio
import itertools
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


def run(quick: bool) -> list[Row]:
    if shutil.which("tmux") is None:
        return []
    from simulators.bank.local import GatewaySim
    from terminal.settings import load_settings

    rows: list[Row] = []
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
            env = {**os.environ, "POSTERM_CONFIG": str(config), "TERM": "xterm-256color"}
            runs = 2 if quick else 5
            launch = [
                time_to_text([sys.executable, "-m", "terminal", "run"], READY_TEXT, env)
                for _ in range(runs)
            ]
            bare_app = base / "bare_app.py"
            bare_app.write_text(BARE_APP, encoding="utf-8")
            bare = [
                time_to_text([sys.executable, str(bare_app)], READY_TEXT, env) for _ in range(runs)
            ]
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
                    note=f"bare app {statistics.median(bare):.3f} s",
                )
            )

            settings = load_settings(config, environ={})
            count = 100 if quick else 1000
            before, after, per_sale = asyncio.run(sales_on_screen(settings, count))
            rows.append(
                Row(
                    "ui",
                    f"RSS of the screen after {count} sales",
                    after,
                    "MiB",
                    after,
                    after,
                    1,
                    ratio=f"+{after - before:.1f} MiB over the {count} sales",
                    note=f"{per_sale * 1000:.1f} ms/sale incl. gateway sim",
                )
            )
        finally:
            sim.stop()
    return rows
