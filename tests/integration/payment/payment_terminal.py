"""Payment integration helpers: a terminal configured against the real gateway simulator."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from simulators.card.tap import TappedCard
from terminal.payment.api import Outcome, Progress, SaleRequest
from terminal.payment.engine import Engine
from terminal.payment.factory import build_engine
from terminal.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[3]


class Terminal:
    """One configured terminal: its config file, settings, and engines built from them."""

    def __init__(self, sim: Any, tmp_path: Path, **overrides: Any) -> None:
        overrides.setdefault("devices", {"nfc": "none"})
        gateway = {"timeout_s": 2.0, "connect_timeout_s": 1.0}
        gateway.update(overrides.pop("gateway", {}))
        self.sim = sim
        self.config = sim.terminal_config(tmp_path, gateway=gateway, **overrides)
        self.settings: Settings = load_settings(self.config, environ={})
        self.terminal_id = self.settings.terminal.terminal_id

    def engine(self, capture: Any = None) -> Engine:
        return build_engine(self.settings, card_capture=capture)

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "terminal", "--config", str(self.config), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.settings.data_dir)},
        )

    def ledger(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.sim.ledger(self.terminal_id)
        return entries


class Steps(list[Progress]):
    def __call__(self, step: Progress) -> None:
        self.append(step)


async def pay(engine: Engine, amount: str, profile: str | None = None, **request: Any) -> Outcome:
    """One sale; `profile` swaps the tapped card."""
    from terminal.money import Amount

    if profile is not None:
        engine.card_capture = TappedCard(profile)
    currency = engine.settings.terminal.currency
    return await engine.sale(
        SaleRequest(Amount.parse(amount, currency), **request), Steps(), asyncio.Event()
    )
