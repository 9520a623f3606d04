"""`posterm serve` as a kiosk runs it: its own process, the real engine and gateway simulator,
the ECR API on loopback, a simulated card tapped on the NFC reader, receipts on a fake printer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from simulators.card.present import present_card, simulated_card
from simulators.printer import FakePrinter
from tests.conftest import free_port
from tests.unit.receipts.escpos_decode import decode

REPO = Path(__file__).resolve().parents[3]
TOKEN = "kiosk-token-0123456789"


def wait_listening(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text(errors='replace')}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"serve did not listen: {log.read_text(errors='replace')}")


def test_serve_takes_a_till_payment_prints_and_stops_on_sigterm(
    gateway_sim: Any, tmp_path: Path
) -> None:
    port = free_port()
    reader = f"udp:localhost:{free_port()}"
    with FakePrinter() as printer:
        config = gateway_sim.terminal_config(
            tmp_path,
            terminal_id="KIOSK001",
            devices={"nfc": reader, "printer": printer.url},
            ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN},
            gateway={"timeout_s": 3.0, "connect_timeout_s": 1.0},
        )
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "terminal", "--config", str(config), "serve"],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "POSTERM_LOGGING__TARGET": "stderr"},
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_listening(f"{base}/ecr/v1/status", process, log)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            created = httpx.post(
                f"{base}/ecr/v1/payments",
                headers=headers,
                json={
                    "amount": {"value": 2345, "currency": "EUR"},
                    "method": "nfc",
                    "reference": "VEND-1",
                },
            )
            assert created.status_code == 202
            tap = threading.Thread(
                target=present_card,
                args=(simulated_card("visa-credit"), reader),
                kwargs={"taps": 1, "duration_s": 20},
            )
            tap.start()
            done = httpx.get(
                f"{base}/ecr/v1/payments/{created.json()['id']}?wait=30",
                headers=headers,
                timeout=40,
            ).json()
            tap.join(timeout=20)
            assert done["state"] == "completed", done
            assert done["result"] == "approved", done
            assert done["auth_code"]
            deadline = time.monotonic() + 10
            while decode(printer.received).cuts < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            paper = decode(printer.received).text
            assert "EUR 23.45" in paper and done["auth_code"] in paper
            assert "476173" not in paper.split("MERCHANT COPY")[1]  # customer copy: last 4
            totals = httpx.get(f"{base}/ecr/v1/totals", headers=headers).json()
            assert any(
                line["count"] == 1 and line["result"] == "approved" for line in totals["lines"]
            )
            assert httpx.get(f"{base}/ecr/v1/totals").status_code == 401
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        assert code == 0, log.read_text(errors="replace")


def test_serve_says_why_when_the_ecr_port_is_taken(gateway_sim: Any, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = gateway_sim.terminal_config(
            tmp_path,
            terminal_id="KIOSK002",
            ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN},
        )
        run = subprocess.run(
            [sys.executable, "-m", "terminal", "--config", str(config), "serve"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr
