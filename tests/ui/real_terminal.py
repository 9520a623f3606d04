"""The operator screen on the real engine, the real gateway simulator and the real NFC stack:
the terminal reads `udp:localhost:PORT` with nfcpy, and a simulated card (simulators/card/applet.py
through `simulators.card.present.present_card`) is tapped on the other side in a thread, answering
with cryptograms the simulator verifies."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path
from typing import Any

import cv2

from simulators.camera import empty_frame, render_frame
from simulators.card.present import present_card, simulated_card
from terminal.payment.factory import build_engine
from terminal.settings import Settings, load_settings
from terminal.ui.app import PostermApp, build_app
from terminal.ui.presenter import ScreenCodePresenter
from terminal.wiring.camera import code_scanner
from terminal.wiring.nfc import card_capture
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
        self.camera_folder = tmp_path / f"camera-{terminal_id}"
        self.camera_folder.mkdir(parents=True, exist_ok=True)
        self._frames = 0
        self._write_frame(empty_frame())
        overrides.setdefault("gateway", {"timeout_s": 3.0, "connect_timeout_s": 1.0})
        ui = {"supervisor_pin_hash": PIN_HASH, **overrides.pop("ui", {})}
        devices = {"nfc": self.reader, "camera": str(self.camera_folder / "frame-%03d.png")}
        devices.update(overrides.pop("devices", {}))
        self.config = sim.terminal_config(
            tmp_path,
            terminal_id=terminal_id,
            devices=devices,
            ui=ui,
            **overrides,
        )
        self.settings: Settings = load_settings(self.config, environ={})
        self.terminal_id = terminal_id
        self.presenter = ScreenCodePresenter()
        self.capture = card_capture(self.settings)
        self.scanner = code_scanner(self.settings)
        self.engine = build_engine(
            self.settings,
            card_capture=self.capture,
            code_scanner=self.scanner,
            code_presenter=self.presenter,
        )

    def app(self, ecr: Any = None) -> PostermApp:
        printing = None
        if self.settings.devices.printer != "none":
            from terminal.receipts.printing import ReceiptPrinting
            from terminal.wiring.printer import open_receipt_printer

            printing = ReceiptPrinting(self.settings, open_receipt_printer(self.settings))
        return build_app(
            self.settings, self.engine, presenter=self.presenter, ecr=ecr, printing=printing
        )

    async def tap(self, profile: str = "visa-credit") -> int:
        """The customer holds a card to the reader (one tap, up to 15 s)."""
        card = simulated_card(profile)
        return await asyncio.to_thread(present_card, card, self.reader, taps=1, duration_s=15)

    def show_wallet_code(self, card: str = "wallet-token") -> None:
        """The customer's wallet shows a one-time code to the camera."""
        code = self.sim.wallet_code(card=card)["code"]
        self._write_frame(render_frame(code, size=(640, 480), module_px=4))

    def wallet_pays(self, payload: str) -> None:
        """The customer's wallet pays the merchant code shown on the screen."""
        self.sim.wallet_pay(payload=payload)

    def _write_frame(self, frame: Any) -> None:
        ok, encoded = cv2.imencode(".png", frame)
        assert ok
        path = self.camera_folder / f"frame-{self._frames:03d}.png"
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(encoded.tobytes())
        os.replace(temporary, path)
        self._frames += 1

    def close(self) -> None:
        if self.capture is not None:
            self.capture.close()
