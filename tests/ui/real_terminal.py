"""The operator screen on the real engine, the real gateway simulator and the real NFC stack:
the terminal reads `udp:localhost:PORT` with nfcpy, and a simulated card (terminal/emv/sim_card
through `terminal.wiring.nfc.present_card`) is tapped on the other side in a thread, answering
with cryptograms the simulator verifies."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from terminal.payment.factory import build_engine
from terminal.settings import Settings, load_settings
from terminal.ui.app import PostermApp, build_app
from terminal.ui.presenter import ScreenCodePresenter
from terminal.wiring.nfc import card_capture, present_card, simulated_card
from tests.conftest import free_port
from tests.ui.helpers import cheap_pin_hash

SUPERVISOR_PIN = "2468"
PIN_HASH = cheap_pin_hash(SUPERVISOR_PIN)
_IDS = itertools.count(1)


class RealTerminal:
    def __init__(self, sim: Any, tmp_path: Path, **overrides: Any) -> None:
        self.sim = sim
        self.reader = f"udp:localhost:{free_port()}"
        terminal_id = f"UIT{next(_IDS):05d}"
        overrides.setdefault("gateway", {"timeout_s": 3.0, "connect_timeout_s": 1.0})
        ui = {"supervisor_pin_hash": PIN_HASH, **overrides.pop("ui", {})}
        self.config = sim.terminal_config(
            tmp_path, terminal_id=terminal_id, devices={"nfc": self.reader}, ui=ui, **overrides
        )
        self.settings: Settings = load_settings(self.config, environ={})
        self.terminal_id = terminal_id
        self.presenter = ScreenCodePresenter()
        self.capture = card_capture(self.settings)
        self.engine = build_engine(
            self.settings, card_capture=self.capture, code_presenter=self.presenter
        )

    def app(self) -> PostermApp:
        return build_app(self.settings, self.engine, presenter=self.presenter)

    async def tap(self, profile: str = "visa-credit") -> int:
        """The customer holds a card to the reader (one tap, up to 15 s)."""
        card = simulated_card(profile)
        return await asyncio.to_thread(present_card, card, self.reader, taps=1, duration_s=15)

    def close(self) -> None:
        if self.capture is not None:
            self.capture.close()
