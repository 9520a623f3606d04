"""New settings reach a running engine only between payments (a fleet configuration bundle):
the sale under way finishes under the old floor limit, the next one uses the new one, and
what a running terminal cannot change is refused with nothing changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from scripted_bank import ScriptedBank, answer
from test_payment_engine import FINGERPRINT, PlainCard, eur, settings_for

from terminal.payment.api import Result, SaleRequest
from terminal.payment.bank import Delivery, NotSent
from terminal.payment.engine import Engine
from terminal.payment.errors import NotConfigured
from terminal.payment.journal import Journal


class HeldBank(ScriptedBank):
    """Holds each delivery until the test lets it go."""

    def __init__(self, *script: Any) -> None:
        super().__init__(*script)
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        self.arrived.set()
        await self.release.wait()
        return await super().deliver(message_id, stored, deadline_s=deadline_s)


@pytest.fixture
async def held(tmp_path: Path) -> AsyncIterator[tuple[Engine, HeldBank]]:
    bank = HeldBank()
    settings = settings_for(tmp_path, offline={"floor_limit": "50.00"})
    engine = Engine(
        settings,
        Journal.open(settings.data_dir),
        bank,
        fingerprint=FINGERPRINT,
        card_capture=PlainCard(),
    )
    await engine.start(forward=False)
    yield engine, bank
    await engine.stop()


def lower_floor(engine: Engine, floor: str) -> Any:
    data = engine.settings.model_dump()
    data["offline"]["floor_limit"] = floor
    return type(engine.settings).model_validate(data)


async def test_a_sale_under_way_finishes_under_the_old_floor_limit(
    held: tuple[Engine, HeldBank],
) -> None:
    engine, bank = held
    bank.add(NotSent("connection refused"), NotSent("connection refused"))
    first = asyncio.create_task(
        engine.sale(SaleRequest(eur("30.00")), lambda s: None, asyncio.Event())
    )
    await bank.arrived.wait()  # the sale is with the bank, under a floor limit of 50.00
    change = asyncio.create_task(engine.reconfigure(lower_floor(engine, "20.00")))
    await asyncio.sleep(0.05)
    assert not change.done()  # waits for the sale
    bank.release.set()
    outcome = await first
    assert outcome.result is Result.APPROVED_OFFLINE, outcome.message  # the old limit
    await change
    assert str(engine.limits.floor_limit) == "EUR 20.00"
    again = await engine.sale(SaleRequest(eur("30.00")), lambda s: None, asyncio.Event())
    assert (again.result, again.code) == (Result.DECLINED, "61"), again.message  # the new one


async def test_a_sale_that_starts_during_the_change_waits_for_it(
    held: tuple[Engine, HeldBank],
) -> None:
    engine, bank = held
    bank.release.set()
    bank.add(answer("approved", auth_code="A1"))
    async with engine.gate.between():  # the change holds the gate
        sale = asyncio.create_task(
            engine.sale(SaleRequest(eur("5.00")), lambda s: None, asyncio.Event())
        )
        await asyncio.sleep(0.05)
        assert not bank.arrived.is_set() and not sale.done()
    assert (await sale).result is Result.APPROVED


async def test_what_a_running_terminal_cannot_change_is_refused(
    held: tuple[Engine, HeldBank],
) -> None:
    engine, _ = held
    data = engine.settings.model_dump()
    data["terminal"]["terminal_id"] = "OTHER001"
    with pytest.raises(NotConfigured, match=r"cannot change \[terminal\]"):
        await engine.reconfigure(type(engine.settings).model_validate(data))
    assert engine.settings.terminal.terminal_id != "OTHER001"
