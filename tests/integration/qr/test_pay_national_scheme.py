"""A merchant-presented code carrying a national scheme's template, shown by the real
`posterm pay --method qr-show` and paid by the simulator's wallet of that scheme: a wallet of
another scheme cannot pay it, the scheme's own wallet can."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("simulators.bank", reason="needs the gateway simulator")

from simulators.bank.process import SimulatorError
from terminal.qr.mpm import parse_merchant_code
from tests.integration.qr.test_pay_qr import ShowingTerminal, charged


def test_a_pix_wallet_pays_the_code_through_its_pix_template(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    gateway_sim_module.cards(
        name="pix-wallet-br",
        pan="4111111111111111",
        expiry="301231",
        balance="500.00",
        currency="BRL",
    )
    config = gateway_sim_module.terminal_config(
        tmp_path,
        terminal_id="POSPIX01",
        terminal={"terminal_id": "POSPIX01", "currency": "BRL", "country": "BR"},
        qr={
            "poll_interval_s": 0.2,
            "merchant_accounts": [{"scheme": "pix", "account": "12345678909"}],
        },
    )
    terminal = ShowingTerminal(config, "25.90")
    payload = terminal.wait_for_code()
    code = parse_merchant_code(payload, strict=True)
    pix = code.fields["26"]
    assert isinstance(pix, dict) and pix == {"00": "br.gov.bcb.pix", "01": "12345678909"}
    with pytest.raises(SimulatorError, match="no PromptPay template"):
        gateway_sim_module.wallet_pay(payload=payload, card="pix-wallet-br", scheme="promptpay")
    paid = gateway_sim_module.wallet_pay(payload=payload, card="pix-wallet-br", scheme="pix")
    assert paid["result"] == "approved"
    status, result = terminal.result()
    assert (status, result["result"]) == (0, "approved")
    assert charged(gateway_sim_module, "POSPIX01") == [("qr_intent", 2590)]
