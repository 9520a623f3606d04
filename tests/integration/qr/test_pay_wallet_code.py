"""Wallet pay codes (WeChat Pay, Alipay, UnionPay) scanned by the real `posterm pay` from a
simulated camera, paid by the gateway simulator's wallets: at once, after the customer confirms
on the phone, never confirmed (cancelled and reversed), cancelled by the operator, and killed
mid-wait then restarted. The ledger is the proof: every sale charged at most once, and nothing
left charged for a sale that did not end approved."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("simulators.bank", reason="needs the gateway simulator")

from simulators.camera import Degradation, empty_frame, render_frame, write_image_sequence
from tests.integration.qr.test_pay_qr import camera_showing, outcome, posterm


def net_charged(sim: Any, terminal_id: str) -> int:
    """Minor units the wallets paid this terminal, minus what was reversed or voided."""
    entries = sim.ledger(terminal_id)
    paid = sum(
        e["amount"]["value"]
        for e in entries
        if e["type"] == "authorize" and e["result"] == "approved"
    )
    given_back = sum(e["amount"]["value"] for e in entries if e["type"] in ("reverse", "void"))
    return int(paid - given_back)


def config_for(sim: Any, tmp_path: Path, terminal_id: str, code: str, **qr: Any) -> Path:
    device = camera_showing(code, tmp_path / f"camera-{terminal_id}")
    return sim.terminal_config(  # type: ignore[no-any-return]
        tmp_path,
        terminal_id=terminal_id,
        devices={"camera": device},
        qr={"wallet_confirm_timeout_s": 4.0, **qr},
    )


def history(config: Path) -> list[dict[str, Any]]:
    run = posterm(config, "history", "--json")
    assert run.returncode == 0, run.stderr
    rows: list[dict[str, Any]] = json.loads(run.stdout)
    return rows


def pay(config: Path, amount: str = "12.34") -> tuple[int, dict[str, Any], str]:
    run = posterm(config, "pay", "--amount", amount, "--method", "qr-scan", "--json")
    return run.returncode, outcome(run), run.stderr


@pytest.mark.parametrize(
    ("scheme", "terminal_id"),
    [("wechatpay", "POSWC001"), ("alipay", "POSAL001"), ("unionpay", "POSUP001")],
)
def test_pay_code_is_approved_at_once_and_its_reuse_declined(
    gateway_sim_module: Any, tmp_path: Path, scheme: str, terminal_id: str
) -> None:
    code = gateway_sim_module.pay_code(scheme)["code"]
    config = config_for(gateway_sim_module, tmp_path, terminal_id, code)
    status, result, stderr = pay(config)
    assert status == 0, stderr
    assert (result["result"], result["entry"]) == ("approved", "qr_cpm")
    assert code not in stderr and code not in str(result)  # sealed end to end
    assert history(config)[0]["scheme"] == scheme
    status, result, _ = pay(config)
    assert (status, result["result"], result["code"]) == (1, "declined", "65")
    assert net_charged(gateway_sim_module, terminal_id) == 1234


def test_code_128_pay_code_from_a_degraded_frame_is_paid(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    code = gateway_sim_module.pay_code("alipay")["code"]
    rng = np.random.default_rng(7)
    damage = Degradation(
        blur_sigma=1.0, noise_sigma=10, rotation_deg=5, perspective=0.03, contrast=0.45
    )
    frames = [empty_frame(seed=1)] + [
        render_frame(
            code, module_px=3, degradation=damage, seed=int(rng.integers(1000)), symbology="code128"
        )
        for _ in range(3)
    ]
    device = write_image_sequence(frames, tmp_path / "camera-bars") + "?follow=0"
    config = gateway_sim_module.terminal_config(
        tmp_path, terminal_id="POSAL009", devices={"camera": device}
    )
    status, result, stderr = pay(config, "3.20")
    assert status == 0, stderr
    assert result["result"] == "approved"
    assert history(config)[0]["scheme"] == "alipay"
    assert net_charged(gateway_sim_module, "POSAL009") == 320


def test_expired_pay_code_is_declined(gateway_sim_module: Any, tmp_path: Path) -> None:
    code = gateway_sim_module.pay_code("alipay", expires_in_s=1)["code"]
    time.sleep(1.2)
    config = config_for(gateway_sim_module, tmp_path, "POSAL002", code)
    status, result, _ = pay(config)
    assert (status, result["result"], result["code"]) == (1, "declined", "54")
    assert net_charged(gateway_sim_module, "POSAL002") == 0


def test_confirming_then_approved(gateway_sim_module: Any, tmp_path: Path) -> None:
    code = gateway_sim_module.pay_code("wechatpay", confirm_after_s=1.5)["code"]
    config = config_for(gateway_sim_module, tmp_path, "POSWC002", code)
    status, result, stderr = pay(config)
    assert status == 0, stderr
    assert "Waiting for the customer to confirm on their phone" in stderr
    assert result["result"] == "approved" and result["auth_code"]
    assert net_charged(gateway_sim_module, "POSWC002") == 1234


def test_never_confirmed_is_cancelled_and_reversed(gateway_sim_module: Any, tmp_path: Path) -> None:
    code = gateway_sim_module.pay_code("alipay", confirm_after_s=None)["code"]
    config = config_for(gateway_sim_module, tmp_path, "POSAL003", code, wallet_confirm_timeout_s=2)
    status, result, stderr = pay(config)
    assert status == 1, stderr
    assert result["result"] == "cancelled"
    assert "did not confirm on their phone within 2 s" in result["message"]
    assert "nothing was charged" in result["message"]
    assert net_charged(gateway_sim_module, "POSAL003") == 0


def test_wallet_without_funds_is_declined_51(gateway_sim_module: Any, tmp_path: Path) -> None:
    code = gateway_sim_module.pay_code("unionpay", card="mastercard-debit")["code"]
    config = config_for(gateway_sim_module, tmp_path, "POSUP002", code)
    status, result, _ = pay(config, "500.00")
    assert (status, result["result"], result["code"]) == (1, "declined", "51")
    assert net_charged(gateway_sim_module, "POSUP002") == 0


POSTERM = (sys.executable, "-m", "terminal")
SCAN = ("--method", "qr-scan", "--json")


class Paying:
    """`posterm pay --method qr-scan` running, its screen (stderr) read as it comes."""

    def __init__(self, config: Path, amount: str = "12.34") -> None:
        self.process = subprocess.Popen(
            [*POSTERM, "--config", str(config), "pay", "--amount", amount, *SCAN],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.screen: list[str] = []
        self.confirming = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.screen.append(line)
            if "confirm on their phone" in line:
                self.confirming.set()

    def wait_confirming(self, timeout: float = 30) -> None:
        if not self.confirming.wait(timeout):
            self.process.kill()
            raise AssertionError("never waited for the customer:\n" + "".join(self.screen))


def test_operator_cancel_while_confirming_charges_nothing(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    code = gateway_sim_module.pay_code("wechatpay", confirm_after_s=None)["code"]
    config = config_for(gateway_sim_module, tmp_path, "POSWC003", code, wallet_confirm_timeout_s=30)
    paying = Paying(config)
    paying.wait_confirming()
    paying.process.send_signal(signal.SIGINT)
    stdout, _ = paying.process.communicate(timeout=30)
    paying._reader.join(timeout=5)
    result = json.loads(stdout)
    assert paying.process.returncode == 1
    assert result["result"] == "cancelled" and "nothing was charged" in result["message"]
    assert net_charged(gateway_sim_module, "POSWC003") == 0


@pytest.mark.parametrize(("confirm_after_s", "ends"), [(2.0, "approved"), (None, "reversed")])
def test_kill_while_confirming_then_restart_settles_from_the_wallet(
    gateway_sim_module: Any, tmp_path: Path, confirm_after_s: float | None, ends: str
) -> None:
    terminal_id = "POSWC004" if confirm_after_s else "POSWC005"
    code = gateway_sim_module.pay_code("wechatpay", confirm_after_s=confirm_after_s)["code"]
    config = config_for(
        gateway_sim_module, tmp_path, terminal_id, code, wallet_confirm_timeout_s=30
    )
    paying = Paying(config)
    paying.wait_confirming()
    paying.process.kill()  # SIGKILL: no cleanup at all
    paying.process.wait(timeout=10)
    time.sleep(2.5)  # the customer confirms (or not) while the terminal is dead
    restart = posterm(config, "saf", "flush")  # the engine starts: recovery runs
    assert restart.returncode == 0, restart.stdout + restart.stderr
    sale = history(config)[0]
    assert sale["state"] == ends, sale
    expected = 1234 if ends == "approved" else 0
    assert net_charged(gateway_sim_module, terminal_id) == expected


def test_cross_border_wallet_pays_in_its_own_currency(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    gateway_sim_module.cards(
        name="alipay-cn-wallet",
        pan="6250946000000016",
        expiry="301231",
        balance="1000.00",
        currency="CNY",
    )
    code = gateway_sim_module.pay_code("alipay", card="alipay-cn-wallet")["code"]
    config = config_for(gateway_sim_module, tmp_path, "POSAL010", code)
    status, result, stderr = pay(config, "12.50")
    assert status == 0, stderr
    assert "Paid with Alipay — CNY 96.40 at 7.7120" in result["message"]
    assert history(config)[0]["paid_with"] == "Paid with Alipay — CNY 96.40 at 7.7120"
    wallet = gateway_sim_module.card("alipay-cn-wallet")["balance"]
    assert wallet == {"value": 100000 - 9640, "currency": "CNY"}
    assert net_charged(gateway_sim_module, "POSAL010") == 1250  # the shop's side: EUR


def test_confirmed_but_without_funds_is_declined_51(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    code = gateway_sim_module.pay_code("wechatpay", card="mastercard-debit", confirm_after_s=1)
    config = config_for(gateway_sim_module, tmp_path, "POSWC006", code["code"])
    status, result, stderr = pay(config, "500.00")  # the debit card holds 80.00
    assert "Waiting for the customer to confirm on their phone" in stderr
    assert (status, result["result"], result["code"]) == (1, "declined", "51")
    assert net_charged(gateway_sim_module, "POSWC006") == 0
