"""`posterm demo`'s simulated world: gateway simulator, simulated cards and phones over nfcpy's
UDP front end, a camera fed from image files and a fake receipt printer, plus the actions that
play the customer.

Fixed loopback ports come from `config/demo.toml` (gateway, NFC UDP pair, printer); the
simulator's admin API listens on `ADMIN_PORT`. State lives in `var/demo/` under the checkout,
so a second `make demo` continues with the same journal, keys and ledger.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2

from simulators.bank.process import SimulatorProcess
from terminal.errors import PostermError
from terminal.money import Amount
from terminal.settings import PACKAGE_ROOT, Settings, load_settings

log = logging.getLogger(__name__)

DEMO_CONFIG = PACKAGE_ROOT / "config" / "demo.toml"
DEMO_OPERATOR_CONFIG = PACKAGE_ROOT / "config" / "demo-operator.toml"
DEMO_STATE = PACKAGE_ROOT / "var" / "demo"
ADMIN_PORT = 18446
TAP_TIMEOUT_S = 30.0
WALLET_CODE_SHOWN_S = 4.0


def _port(device: str) -> int:
    """The port of `udp:HOST:PORT` or `socket://HOST:PORT`."""
    tail = device.rsplit(":", 1)[-1]
    if not tail.isdigit():
        raise PostermError(f"demo configuration: {device!r} has no port")
    return int(tail)


class EmptyField:
    """The simulated reader's field with no card in it.

    Over nfcpy's UDP front end the card's side binds the reader's port. Between taps the demo
    holds that port itself with a socket that never answers, so the reader is there with an
    empty field (the terminal sees no card, `posterm devices probe` finds a reader); a tap
    hands the port to the simulated card's process and takes it back when the tap ends.
    """

    def __init__(self, reader_path: str) -> None:
        parts = reader_path.split(":")
        self.address = (parts[1] or "localhost", int(parts[2]))
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._lent = 0

    def hold(self) -> None:
        with self._lock:
            if self._socket is not None or self._lent:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _ in range(40):  # a card process that just ended may still hold the port
                try:
                    sock.bind((socket.gethostbyname(self.address[0]), self.address[1]))
                    self._socket = sock
                    return
                except OSError:
                    time.sleep(0.05)
            sock.close()
            log.warning("the demo reader port %s:%d is taken by another program", *self.address)

    @contextlib.contextmanager
    def lent(self) -> Iterator[None]:
        """The port is free for a simulated card while the block runs."""
        with self._lock:
            self._lent += 1
            if self._socket is not None:
                self._socket.close()
                self._socket = None
        try:
            yield
        finally:
            with self._lock:
                self._lent -= 1
            self.hold()

    def close(self) -> None:
        with self._lock:
            self._lent += 1  # never again
            if self._socket is not None:
                self._socket.close()
                self._socket = None


@dataclass
class DemoStack:
    """The simulated world around the demo terminal."""

    config: Path = DEMO_CONFIG
    state: Path = DEMO_STATE
    gateway: SimulatorProcess | None = None
    printer: Any = None
    settings: Settings | None = None
    last_code: str = ""
    root_warning: str = ""
    """Set when the demo's root secret is a plain file (it always is): shown on screen."""
    broker: Any = None
    """The local Mosquitto the demo terminal reports to (simulators/broker.py), if started."""
    fleet_off: str = ""
    """Why the demo runs without its fleet broker ("" when the broker runs)."""
    _taps: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _frame_lock: threading.Lock = field(default_factory=threading.Lock)
    _gateway_down: bool = False
    _field: EmptyField | None = None

    def start(self) -> Settings:
        """Start the simulator, enrol the terminal, start the printer; return the settings."""
        self.state.mkdir(parents=True, exist_ok=True)
        url = urlsplit(_read_gateway_url(self.config))
        self.gateway = SimulatorProcess(
            self.state / "gateway",
            host=url.hostname or "127.0.0.1",
            port=url.port or 18443,
            admin_port=ADMIN_PORT,
            log_path=self.state / "gateway-sim.log",
        )
        self.gateway.start()
        settings = load_settings(self.config)
        self.settings = settings
        self._enrol(settings)
        self._start_printer(settings)
        self._prepare_camera(settings)
        self.fleet_off = self.start_broker(settings)
        if settings.devices.nfc.startswith("udp:"):
            self._field = EmptyField(settings.devices.nfc)
            self._field.hold()
        return settings

    def _enrol(self, settings: Settings) -> None:
        from terminal.security.key_hierarchy import RootPlace
        from terminal.security.keystore import Keystore

        assert self.gateway is not None
        keystore = Keystore.open(
            settings.data_dir, settings.terminal.terminal_id, root=RootPlace.of(settings)
        )
        self.root_warning = keystore.root_warning  # a plain-file root: the demo says so
        self.gateway.enroll(settings.terminal.terminal_id, keystore.public_jwks())

    def start_broker(self, settings: Settings) -> str:
        """Start the demo's local broker for `[fleet]`; "" when it runs, else why not (the
        demo then runs with the fleet off)."""
        from simulators.broker import OPERATOR, BrokerError, LocalBroker, mosquitto_installed

        fleet = settings.fleet
        if not fleet.enabled:
            return "the demo configuration has [fleet] enabled = false"
        if not mosquitto_installed():
            return "mosquitto is not installed (apt-get install mosquitto, or make setup)"
        operator = load_settings(DEMO_OPERATOR_CONFIG).fleet
        broker = LocalBroker(
            self.state / "broker",
            urlsplit(fleet.broker).port or 1883,
            {fleet.username: fleet.password, OPERATOR: operator.password},
            prefix=fleet.topic_prefix,
            persistence=True,  # the terminal's last status stays visible between demos
        )
        try:
            broker.start()
        except BrokerError as error:
            return f"the demo's broker did not start ({error})"
        self.broker = broker
        return ""

    def _start_printer(self, settings: Settings) -> None:
        if not settings.devices.printer.startswith("socket://"):
            return
        from simulators.printer import FakePrinter

        self.printer = FakePrinter(
            port=_port(settings.devices.printer), out=self.state / "receipts.bin"
        )

    def _prepare_camera(self, settings: Settings) -> None:
        """An empty view for the camera until the customer shows a code."""
        from simulators.camera import empty_frame

        folder = self.camera_folder(settings)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("frame-*.png"):
            old.unlink()
        _write_frame_atomically(folder / "frame-000.png", empty_frame())

    @staticmethod
    def camera_folder(settings: Settings) -> Path:
        return Path(settings.devices.camera).parent

    def stop(self) -> None:
        if self._field is not None:
            self._field.close()
            self._field = None
        for tap in self._taps:
            if tap.poll() is None:
                tap.terminate()
        if self.printer is not None:
            self.printer.close()
            self.printer = None
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    # -- the customer's part ------------------------------------------------------------

    def tap(self, profile: str) -> None:
        """Hold a simulated card or phone to the reader for one tap (blocks until done)."""
        assert self.settings is not None
        command = [
            sys.executable,
            "-m",
            "terminal",
            "sim",
            "card",
            "--profile",
            profile,
            "--reader",
            self.settings.devices.nfc,
            "--taps",
            "1",
            "--timeout",
            str(TAP_TIMEOUT_S),
        ]
        with self._field.lent() if self._field is not None else contextlib.nullcontext():
            process = subprocess.Popen(
                command,
                cwd=PACKAGE_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=(self.state / "sim-card.log").open("ab"),
            )
            self._taps.append(process)
            process.wait()
            self._taps.remove(process)

    def show_wallet_code(self, card: str = "wallet-token") -> None:
        """The customer's wallet shows a one-time code to the camera."""
        from simulators.camera import empty_frame, render_frame

        assert self.gateway is not None and self.settings is not None
        code = self.gateway.wallet_code(card=card)["code"]
        folder = self.camera_folder(self.settings)
        self._show_frame(folder, render_frame(code, size=(640, 480), module_px=4))
        # The customer takes the phone away again, so the next sale does not see this code.
        time.sleep(WALLET_CODE_SHOWN_S)
        self._show_frame(folder, empty_frame())

    def show_pay_code(
        self, scheme: str, *, confirm_after_s: float = 0.0, symbology: str = "qr"
    ) -> None:
        """The customer's WeChat Pay / Alipay / UnionPay app shows a numeric pay code (as a QR
        code or as the Code 128 barcode under it); with `confirm_after_s` the wallet makes the
        customer confirm on the phone that long before it pays."""
        from simulators.camera import empty_frame, render_frame

        assert self.gateway is not None and self.settings is not None
        code = self.gateway.pay_code(scheme, confirm_after_s=confirm_after_s)["code"]
        folder = self.camera_folder(self.settings)
        module_px = 3 if symbology == "code128" else 4
        frame = render_frame(code, size=(640, 480), module_px=module_px, symbology=symbology)
        self._show_frame(folder, frame)
        time.sleep(WALLET_CODE_SHOWN_S)
        self._show_frame(folder, empty_frame())

    def _show_frame(self, folder: Path, frame: Any) -> None:
        with self._frame_lock:
            number = len(list(folder.glob("frame-*.png")))
            _write_frame_atomically(folder / f"frame-{number:03d}.png", frame)

    def wallet_pays_shown_code(self) -> None:
        """The customer's wallet pays the merchant code on the screen."""
        assert self.gateway is not None
        if not self.last_code:
            raise PostermError("No merchant code is shown: start a sale with Show code first.")
        self.gateway.wallet_pay(payload=self.last_code)

    def toggle_gateway(self) -> None:
        """Cut or restore the link to the bank (the status bar shows the change)."""
        assert self.gateway is not None
        self._gateway_down = not self._gateway_down
        self.gateway.faults(down=self._gateway_down)

    def code_shown(self, payload: str, amount: Amount) -> None:
        self.last_code = payload


def _write_frame_atomically(path: Path, frame: Any) -> None:
    """The camera follows the folder: it must never see a half-written picture."""
    ok, encoded = cv2.imencode(".png", frame)
    if not ok:
        raise PostermError(f"cannot encode a camera frame for {path}")
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(encoded.tobytes())
    os.replace(temporary, path)


def _read_gateway_url(config: Path) -> str:
    import tomllib

    data = tomllib.loads(config.read_text(encoding="utf-8"))
    url: str = data["gateway"]["url"]
    return url
