"""Partial approval over the ISO 8583 link, against the independent host (which answers F39 10
with the approved part in F4 and the amount asked in F54 for a sale ending in .10 that carried
F60 P1, and for any sale ending in .11)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from independent_host import Host
from test_iso8583_independent_host import requests, started

from terminal.money import Amount
from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.engine import Engine
from terminal.payment.states import State


async def sale(engine: Engine, amount: str, *, allow_partial: bool = False) -> Outcome:
    request = SaleRequest(Amount.parse(amount, "EUR"), allow_partial=allow_partial)
    return await engine.sale(request, lambda step: None, asyncio.Event())


async def test_partial_approval_accepted_is_the_sale_and_the_rest_is_left(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine, mac=True)
    try:
        outcome = await sale(engine, "40.10", allow_partial=True)
        row = engine.journal.get(outcome.id)
    finally:
        await engine.stop()
    assert outcome.result is Result.APPROVED, outcome.message
    assert outcome.code == "10" and outcome.auth_code.startswith("A")
    assert outcome.approved_amount == Amount.parse("20.10", "EUR")
    assert outcome.remaining_amount == Amount.parse("20.00", "EUR")
    assert (row.amount.minor, row.requested and row.requested.minor) == (2010, 4010)
    [request] = requests(host, "0200")
    assert request.text(60) == "P1"
    assert host.ledger == [("sale", request.text(11), 2010)]


async def test_partial_approval_not_asked_for_is_reversed_with_0400(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        outcome = await sale(engine, "40.11")
        state = engine.journal.get(outcome.id).state
    finally:
        await engine.stop()
    assert outcome.result is Result.DECLINED, outcome.message
    assert "did not allow a partial approval" in outcome.message
    assert state is State.REVERSED
    [request] = requests(host, "0200")
    assert 60 not in request.fields
    [reversal] = requests(host, "0400")
    assert reversal.text(90)[4:10] == request.text(11)
    assert host.ledger == []  # the part approved was given back


async def test_without_f60_the_host_declines_instead(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        outcome = await sale(engine, "40.10")
    finally:
        await engine.stop()
    assert (outcome.result, outcome.code) == (Result.DECLINED, "51")
