"""`posterm pay --method qr-scan|qr-show` end to end: the real `posterm` process, the real
gateway simulator, and the simulated camera (frames rendered with `qrcode` and degraded)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("terminal.payment.engine", reason="needs the payment engine (issue 4)")
pytest.importorskip("simulators.bank", reason="needs the gateway simulator (issue 3)")

from simulators.camera import (
    Degradation,
    empty_frame,
    render_frame,
    write_image_sequence,
)

PAYLOAD = re.compile(r"(000201.*6304[0-9A-F]{4})\s*$")
"""A merchant payload printed at the end of a screen line (it may hold spaces)."""


def posterm(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "terminal", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def camera_showing(text: str, folder: Path, seed: int = 0) -> str:
    """A camera that sees the counter, then the customer's phone with `text` on it."""
    rng = np.random.default_rng(seed)
    frames = [empty_frame(seed=i) for i in range(3)] + [
        render_frame(text, degradation=Degradation.random(rng), seed=seed * 10 + i)
        for i in range(4)
    ]
    return write_image_sequence(frames, folder) + "?follow=0"


def scan_config(sim: Any, tmp_path: Path, terminal_id: str, code: str) -> Path:
    device = camera_showing(code, tmp_path / f"camera-{terminal_id}")
    return sim.terminal_config(  # type: ignore[no-any-return]
        tmp_path, terminal_id=terminal_id, devices={"camera": device}
    )


def outcome(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert run.stdout.strip(), run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def charged(sim: Any, terminal_id: str) -> list[tuple[str, int]]:
    """(type, minor units) of every sale the gateway approved for this terminal."""
    return [
        (e["type"], e["amount"]["value"])
        for e in sim.ledger(terminal_id)
        if e["result"] == "approved" and e["type"] in ("authorize", "qr_intent")
    ]


def test_wallet_code_pays_once_and_its_reuse_is_declined(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    code = gateway_sim_module.wallet_code(card="wallet-token")["code"]
    config = scan_config(gateway_sim_module, tmp_path, "POSQR001", code)
    first = posterm(config, "pay", "--amount", "12.34", "--method", "qr-scan", "--json")
    result = outcome(first)
    assert first.returncode == 0, first.stderr
    assert (result["result"], result["entry"]) == ("approved", "qr_cpm")
    assert result["amount"] == {"value": 1234, "currency": "EUR"}
    assert code not in first.stderr  # the code travels only inside the JWE
    again = posterm(config, "pay", "--amount", "12.34", "--method", "qr-scan", "--json")
    result = outcome(again)
    assert again.returncode == 1
    assert (result["result"], result["code"]) == ("declined", "65")
    assert charged(gateway_sim_module, "POSQR001") == [("authorize", 1234)]


def test_shop_code_in_front_of_the_camera_is_not_sent(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    shop = "00020101021226380015com.posterm.pay0115MERCHANT0000001520459995303978540512.34"
    shop += "5802DE5917POSTERM DEMO SHOP6006BERLIN62210505INV420708POSTERM163046901"
    config = scan_config(gateway_sim_module, tmp_path, "POSQR003", shop)
    run = posterm(
        config, "pay", "--amount", "5.00", "--method", "qr-scan", "--timeout", "2", "--json"
    )
    assert run.returncode == 1
    assert "shop's payment code" in run.stderr
    assert charged(gateway_sim_module, "POSQR003") == []


class ShowingTerminal:
    """`posterm pay --method qr-show` running; the payload is read off its screen (stderr)."""

    def __init__(self, config: Path, amount: str) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "terminal",
                "--config",
                str(config),
                "pay",
                "--amount",
                amount,
                "--method",
                "qr-show",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.screen: list[str] = []
        self.shown = threading.Event()
        self.payload = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.screen.append(line)
            found = PAYLOAD.search(line)
            if found and not self.payload:
                self.payload = found.group(1)
                self.shown.set()

    def wait_for_code(self, timeout: float = 30) -> str:
        if not self.shown.wait(timeout):
            self.process.kill()
            raise AssertionError("no code shown:\n" + "".join(self.screen))
        return self.payload

    def result(self, timeout: float = 60) -> tuple[int, dict[str, Any]]:
        stdout, _ = self.process.communicate(timeout=timeout)
        self._reader.join(timeout=5)
        return self.process.returncode, json.loads(stdout)


def test_merchant_code_is_paid_by_the_wallet(gateway_sim_module: Any, tmp_path: Path) -> None:
    config = gateway_sim_module.terminal_config(
        tmp_path, terminal_id="POSQR004", qr={"poll_interval_s": 0.2}
    )
    terminal = ShowingTerminal(config, "9.90")
    payload = terminal.wait_for_code()
    from terminal.qr.mpm import parse_merchant_code

    code = parse_merchant_code(payload, strict=True)
    assert code.dynamic and code.fields["54"] == "9.90" and code.terminal_label == "POSQR004"
    paid = gateway_sim_module.wallet_pay(payload=payload, card="wallet-token")
    assert paid["result"] == "approved"
    status, result = terminal.result()
    assert status == 0
    assert (result["result"], result["entry"]) == ("approved", "qr_mpm")
    assert result["auth_code"] == paid["auth_code"]
    assert charged(gateway_sim_module, "POSQR004") == [("qr_intent", 990)]


def test_wallet_without_funds_is_declined(gateway_sim_module: Any, tmp_path: Path) -> None:
    config = gateway_sim_module.terminal_config(
        tmp_path, terminal_id="POSQR005", qr={"poll_interval_s": 0.2}
    )
    terminal = ShowingTerminal(config, "100.00")
    payload = terminal.wait_for_code()
    assert gateway_sim_module.wallet_pay(payload=payload, card="mastercard-debit")["code"] == "51"
    status, result = terminal.result()
    assert status == 1
    assert (result["result"], result["code"]) == ("declined", "51")
    assert charged(gateway_sim_module, "POSQR005") == []


def test_operator_cancel_voids_the_intent(gateway_sim_module: Any, tmp_path: Path) -> None:
    config = gateway_sim_module.terminal_config(
        tmp_path, terminal_id="POSQR006", qr={"poll_interval_s": 0.2}
    )
    terminal = ShowingTerminal(config, "7.00")
    payload = terminal.wait_for_code()
    time.sleep(0.3)
    terminal.process.send_signal(signal.SIGINT)
    status, result = terminal.result()
    assert status == 1
    assert result["result"] == "cancelled"
    assert (result["entry"], result["amount"]) == ("qr_mpm", {"value": 700, "currency": "EUR"})
    assert "Nothing was charged" in result["message"]
    with pytest.raises(Exception, match=r"409|voided|not pending|cannot"):
        gateway_sim_module.wallet_pay(payload=payload, card="wallet-token")
    assert charged(gateway_sim_module, "POSQR006") == []


def test_no_qr_payment_while_the_gateway_is_down(gateway_sim_module: Any, tmp_path: Path) -> None:
    config = gateway_sim_module.terminal_config(
        tmp_path, terminal_id="POSQR007", gateway={"timeout_s": 3, "connect_timeout_s": 1}
    )
    gateway_sim_module.faults(down=True)
    try:
        run = posterm(config, "pay", "--amount", "5.00", "--method", "qr-show", "--json")
    finally:
        gateway_sim_module.faults()
    result = outcome(run)
    assert run.returncode == 1
    assert result["result"] == "declined"
    assert "never approved offline: ask the customer to pay by card" in result["message"]
    assert charged(gateway_sim_module, "POSQR007") == []
