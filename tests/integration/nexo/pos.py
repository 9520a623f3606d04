"""`posterm serve` with the nexo door on, played by the official Adyen Node.js library.

Port 8443 is fixed in the official clients (they append ":8443/nexo/" to the configured
address), so each test terminal listens on its own loopback address 127.a.b.c:8443: Linux
routes all of 127.0.0.0/8 to the loopback interface, so a random address whose port 8443 is
free can be bound without root and without colliding with other test runs on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simulators.card.applet import SimulatedCard
from simulators.card.present import present_card, simulated_card
from simulators.card.tap import CARDS
from simulators.loopback import loopback_address_with
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[3]
CLIENT = REPO / "tests" / "integration" / "nexo_client"
PASSPHRASE = "shop-key-passphrase-1"
KEY = {
    "KeyIdentifier": "shopkey",
    "KeyVersion": 1,
    "Passphrase": PASSPHRASE,
    "AdyenCryptoVersion": 1,
}


def node_ready() -> bool:
    return shutil.which("node") is not None and (CLIENT / "node_modules" / "@adyen").is_dir()


needs_node = pytest.mark.skipif(
    not node_ready(), reason="node and tests/integration/nexo_client (make setup) are needed"
)


def header(
    category: str, poi_id: str, sale_id: str = "TILL-1", service_id: str = ""
) -> dict[str, Any]:
    return {
        "ProtocolVersion": "3.0",
        "MessageClass": "Device" if category in ("Print", "Display") else "Service",
        "MessageCategory": category,
        "MessageType": "Request",
        "ServiceID": service_id or uuid.uuid4().hex[:10],
        "SaleID": sale_id,
        "POIID": poi_id,
    }


def payment(
    poi_id: str,
    amount: str,
    *,
    transaction_id: str = "",
    payment_type: str = "Normal",
    sale_id: str = "TILL-1",
    service_id: str = "",
    tip: str = "",
    tender_options: str = "ReceiptHandler",
) -> dict[str, Any]:
    amounts: dict[str, Any] = {"Currency": "EUR", "RequestedAmount": float(Decimal(amount))}
    if tip:
        amounts["TipAmount"] = float(Decimal(tip))
    return {
        "SaleToPOIRequest": {
            "MessageHeader": header("Payment", poi_id, sale_id, service_id),
            "PaymentRequest": {
                "SaleData": {
                    "SaleTransactionID": {
                        "TransactionID": transaction_id or uuid.uuid4().hex[:12],
                        "TimeStamp": datetime.now(UTC).isoformat(),
                    },
                    "SaleToAcquirerData": f"tenderOption={tender_options}",
                },
                "PaymentTransaction": {"AmountsReq": amounts},
                "PaymentData": {"PaymentType": payment_type},
            },
        }
    }


def message(category: str, poi_id: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "SaleToPOIRequest": {
            "MessageHeader": header(category, poi_id, **kw),
            f"{category}Request": body,
        }
    }


class NexoTerminal:
    """One `posterm serve` (own process, own data) with the nexo door on 127.a.b.c:8443."""

    def __init__(
        self,
        gateway_sim: Any,
        tmp_path: Path,
        terminal_id: str,
        *,
        sections: dict[str, dict[str, Any]] | None = None,
        **nexo: Any,
    ) -> None:
        """`nexo` goes into `[nexo]`; `sections` are further tables (e.g. `[iso8583]`)."""
        self.sim = gateway_sim
        self.tmp = tmp_path
        self.terminal_id = terminal_id
        self.poi_id = f"posterm-{terminal_id}"
        self.address = loopback_address_with(8443)
        self.reader = f"udp:localhost:{free_port()}"
        section: dict[str, Any] = {
            "enabled": True,
            "listen": f"{self.address}:8443",
            "environment": "test",
            "keys": [{"identifier": "shopkey", "version": 1, "passphrase": PASSPHRASE}],
        }
        section.update(nexo)
        tables: dict[str, dict[str, Any]] = {
            "devices": {"nfc": self.reader},
            "nexo": section,
            "gateway": {"timeout_s": 3.0, "connect_timeout_s": 1.0},
        }
        for name, table in (sections or {}).items():
            tables.setdefault(name, {}).update(table)
        self.config = gateway_sim.terminal_config(tmp_path, terminal_id=terminal_id, **tables)
        self.log = tmp_path / f"serve-{terminal_id}.log"
        self.process: subprocess.Popen[bytes] | None = None
        made = self.posterm("keys", "nexo-cert")
        assert made.returncode == 0, made.stderr
        self.ca = json.loads(made.stdout)["ca"]

    def posterm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "terminal", "--config", str(self.config), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "terminal", "--config", str(self.config), "serve"],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "POSTERM_LOGGING__TARGET": "stderr"},
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text(errors='replace')}")
            try:
                socket.create_connection((self.address, 8443), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"serve did not listen: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.process = None
        assert code == 0, self.log.read_text(errors="replace")

    def tap(self, card: str = "visa-credit", delay_s: float = 0.0) -> threading.Thread:
        """Present `card` on the reader (after `delay_s`) in a thread."""

        def run() -> None:
            time.sleep(delay_s)
            simulated = (
                SimulatedCard(CARDS[card], CARDS)
                if card.startswith("test-")
                else simulated_card(card)
            )
            present_card(simulated, self.reader, taps=1, duration_s=20)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def client(
        self,
        steps: list[dict[str, Any]],
        *,
        encrypted: bool = True,
        key: dict[str, Any] | None = None,
        ca: str | None = None,
        timeout_ms: int = 60000,
    ) -> list[dict[str, Any]]:
        """Run the steps with the Node library; one result per step, in the order they ended."""
        job = {
            "endpoint": f"https://{self.address}",
            "ca": ca or self.ca,
            "timeoutMs": timeout_ms,
            "key": (key or KEY) if encrypted else None,
            "steps": steps,
        }
        path = self.tmp / f"job-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(job))
        run = subprocess.run(
            ["node", str(CLIENT / "run.js"), str(path)],
            cwd=CLIENT,
            capture_output=True,
            text=True,
            timeout=200,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        return [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]

    def ledger(self) -> list[dict[str, Any]]:
        return list(self.sim.ledger(self.terminal_id))


def by_name(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in results}


def body(result: dict[str, Any], category: str) -> dict[str, Any]:
    assert result["ok"], result
    found: dict[str, Any] = result["response"]["SaleToPOIResponse"][f"{category}Response"]
    return found
