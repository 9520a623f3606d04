"""The operator screen does not know which acquirer link is used: the same keys and the same
texts on `protocol = "iso8583"` as on posterm-v1 (test_payments_real_engine.py), against the
real engine, the simulator's ISO 8583 listener and the real NFC stack with a simulated card."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.bank.local import GatewaySim
from simulators.loopback import free_port
from tests.ui.helpers import text_of, type_keys, until
from tests.ui.real_terminal import RealTerminal


@pytest.fixture(scope="module")
def iso_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewaySim, int]]:
    port = free_port()
    folder = tmp_path_factory.mktemp("iso-screen")
    sim = GatewaySim(folder / "sim", extra_args=("--iso8583-listen", f"127.0.0.1:{port}"))
    try:
        yield sim, port
    finally:
        sim.stop()


@pytest.fixture
def terminal(iso_sim: tuple[GatewaySim, int], tmp_path: Path) -> Iterator[RealTerminal]:
    sim, port = iso_sim
    term = RealTerminal(
        sim,
        tmp_path,
        gateway={"protocol": "iso8583", "url": "", "timeout_s": 3.0, "connect_timeout_s": 1.0},
        iso8583={"host": f"127.0.0.1:{port}", "ca_file": str(sim.ca_file), "timeout_s": 3},
        nfc={"cvm_limit": "200.00"},
    )
    yield term
    term.close()
    sim.faults()


def stage(pilot: Any) -> str:
    return text_of(pilot, "#stage")


async def tap_sale(pilot: Any, term: RealTerminal, keys: str, profile: str) -> None:
    await type_keys(pilot, keys)
    await pilot.press("enter")
    await until(pilot, lambda: "Present card" in stage(pilot), timeout=15)
    tapped = asyncio.ensure_future(term.tap(profile))
    await until(pilot, lambda: pilot.app.screen.phase == "result", timeout=30)
    assert await tapped == 1


async def test_sale_decline_and_offline_read_as_on_the_posterm_v1_link(
    terminal: RealTerminal,
) -> None:
    app = terminal.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await tap_sale(pilot, terminal, "1234", "visa-credit")
        assert "Approved" in stage(pilot)
        detail = text_of(pilot, "#detail")
        assert "Auth code" in detail and "EUR 12.34" in detail
        assert "4761" in detail and "******" in detail  # masked PAN only
        await until(pilot, lambda: "Bank: online" in text_of(pilot, "#status"), timeout=5)
        await pilot.press("enter")  # the next sale
        await tap_sale(pilot, terminal, "10000", "mastercard-debit")  # balance 80.00
        assert "Declined" in stage(pilot)
        assert "Insufficient funds. (51)" in text_of(pilot, "#detail")
        await pilot.press("enter")
        terminal.sim.faults(down=True)  # both listeners stop: offline rules apply
        await tap_sale(pilot, terminal, "1500", "visa-credit")
        seen = f"{stage(pilot)} / {text_of(pilot, '#detail')}"
        assert "Approved offline" in stage(pilot), seen
        assert "sent when the link is back" in text_of(pilot, "#detail"), seen
        await until(pilot, lambda: "Queue: 1" in text_of(pilot, "#status"), timeout=10)
        await app.shutdown()
    ledger = [(e["type"], e["amount"]["value"]) for e in terminal.sim.ledger(terminal.terminal_id)]
    assert ("authorize", 1234) in ledger
