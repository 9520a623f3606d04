"""Run the gateway simulator as a separate process and drive its admin API.

Used by `posterm demo` (which starts the simulator in the background) and, on free loopback
ports, by `local.GatewaySim` (tests and benchmarks). The simulator is always a real
`posterm gateway-sim` process, never an in-process stand-in, so a crash test can SIGKILL it
like a bank outage.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from terminal.errors import PostermError
from terminal.settings import PACKAGE_ROOT

START_TIMEOUT_S = 30.0


class SimulatorError(PostermError):
    """The simulator could not be started or answered its admin API with an error."""


class SimulatorProcess:
    """A `posterm gateway-sim` process on `port` with its admin API on `admin_port`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int,
        admin_port: int,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.admin_port = admin_port
        self.url = f"https://{host}:{port}"
        self.admin_url = f"https://{host}:{admin_port}"
        self.extra_args = extra_args
        self.log_path = log_path or data_dir.parent / f"{data_dir.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._admin: httpx.Client | None = None

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "ca.pem"

    def tls(self) -> ssl.SSLContext:
        """A client TLS context that trusts only this simulator's CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def admin_token(self) -> str:
        """The admin API's bearer token (DIR/admin-token, written by the simulator)."""
        return (self.data_dir / "admin-token").read_text(encoding="ascii").strip()

    def _admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def admin(self) -> httpx.Client:
        if self._admin is None:
            self._admin = httpx.Client(
                base_url=self.admin_url,
                verify=self.tls(),
                timeout=10.0,
                headers=self._admin_headers(),
            )
        return self._admin

    # -- process ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process and wait until both the protocol and admin ports answer."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "terminal",
            "gateway-sim",
            "--listen",
            f"{self.host}:{self.port}",
            "--admin-listen",
            f"{self.host}:{self.admin_port}",
            "--data",
            str(self.data_dir),
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PACKAGE_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ},
            )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SimulatorError(
                    f"The gateway simulator stopped at start-up:\n{self.log_tail()}"
                )
            if self.ca_file.exists():
                try:
                    health = httpx.get(f"{self.url}/v1/health", verify=self.tls(), timeout=1.0)
                    admin = httpx.get(
                        f"{self.admin_url}/sim/faults",
                        verify=self.tls(),
                        timeout=1,
                        headers=self._admin_headers(),
                    )
                    if health.status_code == 200 and admin.status_code == 200:
                        return
                except (httpx.HTTPError, OSError):
                    pass
            time.sleep(0.05)
        self.stop()
        raise SimulatorError(f"The gateway simulator did not come up:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL if it does not go)."""
        self._close_admin()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the simulator crashes without any chance to tidy up."""
        self._close_admin()
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Stop (if running) and start again on the same port and data folder."""
        self.stop()
        self.start()

    # -- admin API ------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.admin.post(path, json=body)
        if response.status_code not in (200, 201):
            raise SimulatorError(f"simulator {path}: {response.status_code} {response.text}")
        data: dict[str, Any] = response.json()
        return data

    def ledger(self, terminal_id: str | None = None) -> list[dict[str, Any]]:
        params = {"terminal_id": terminal_id} if terminal_id else None
        response = self.admin.get("/sim/ledger", params=params)
        if response.status_code != 200:
            raise SimulatorError(f"simulator /sim/ledger: {response.status_code}")
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    def holds(self, terminal_id: str | None = None) -> list[dict[str, Any]]:
        """The pre-authorisation holds (expired ones released first)."""
        params = {"terminal_id": terminal_id} if terminal_id else None
        response = self.admin.get("/sim/ledger", params=params)
        if response.status_code != 200:
            raise SimulatorError(f"simulator /sim/ledger: {response.status_code}")
        holds: list[dict[str, Any]] = response.json()["holds"]
        return holds

    def hold_rules(self, **rules: Any) -> dict[str, Any]:
        """Set how long holds live and the capture tolerance (POST /sim/holds/rules)."""
        return self.post("/sim/holds/rules", rules)

    def faults(self, **faults: Any) -> dict[str, Any]:
        return self.post("/sim/faults", faults)

    def cards(self, **card: Any) -> dict[str, Any]:
        return self.post("/sim/cards", card)

    def card(self, name: str) -> dict[str, Any]:
        """One test card as the simulator holds it now (balance, status)."""
        response = self.admin.get("/sim/cards")
        if response.status_code != 200:
            raise SimulatorError(f"simulator /sim/cards: {response.status_code}")
        for card in response.json()["cards"]:
            if card["name"] == name:
                found: dict[str, Any] = card
                return found
        raise KeyError(name)

    def fraud(self, **rule: Any) -> dict[str, Any]:
        return self.post("/sim/fraud", rule)

    def refund_limit(self, minor: int) -> dict[str, Any]:
        return self.post("/sim/refund-limit", {"max": minor})

    def wallet_pay(self, **body: Any) -> dict[str, Any]:
        return self.post("/sim/wallet/pay", body)

    def wallet_code(self, card: str = "wallet-token", **body: Any) -> dict[str, Any]:
        return self.post("/sim/wallet/code", {"card": card, **body})

    def pay_code(self, scheme: str, card: str = "wallet-token", **body: Any) -> dict[str, Any]:
        """A wallet pay code (POST /sim/wallet/paycode)."""
        return self.post("/sim/wallet/paycode", {"scheme": scheme, "card": card, **body})

    def enroll(self, terminal_id: str, jwks: list[dict[str, Any]]) -> list[str]:
        kids: list[str] = self.post("/sim/terminals", {"terminal_id": terminal_id, "jwks": jwks})[
            "enrolled"
        ]
        return kids
