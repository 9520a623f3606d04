"""Tip adjust over ISO 8583: a 0220 adjustment advice (F3 020000, F4 the new total, F54 the tip,
F37/F38 and F90 of the sale) read by the independent host (independent_host.py, which parses it
from its own copy of the table and never imports posterm)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from independent_host import Host, Iso

from terminal.money import Amount
from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.engine import Engine
from terminal.payment.states import State
from terminal.payment.tips import TipNotAllowed


def eur(text: str) -> Amount:
    return Amount.parse(text, "EUR")


async def sale(engine: Engine, amount: str) -> Outcome:
    return await engine.sale(SaleRequest(eur(amount)), lambda step: None, asyncio.Event())


async def started(make: Callable[..., Engine], **options: object) -> Engine:
    engine = make(**options)
    await engine.start()
    await engine.link_checked()
    return engine


def requests(host: Host, *mtis: str) -> list[Iso]:
    return [r for r in host.received if r.mti in mtis]


def book_then_go_down(host: Host) -> Callable[[Iso], object]:
    """A script step: the host books the request, then the link goes down before the answer
    leaves (the terminal cannot send it again until the host is started again)."""

    def step(request: Iso) -> object:
        host.answer(request)
        asyncio.get_running_loop().create_task(host.stop())
        return "swallow"

    return step


async def test_sale_adjusted_before_close_is_one_sale_and_one_adjustment_balanced(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine, mac=True)
    try:
        paid = await sale(engine, "40.00")
        assert paid.result is Result.APPROVED, paid.message
        adjusted = await engine.tip_adjust(paid.id, eur("6.00"), lambda step: None)
        row = engine.journal.get(paid.id)
        closed = await engine.close_batch()
    finally:
        await engine.stop()
    assert adjusted.result is Result.APPROVED, adjusted.message
    assert adjusted.amount == eur("46.00")
    assert adjusted.message == f"Tip adjusted: sale {paid.id} will be charged EUR 46.00."
    assert (row.amount, row.tip, row.state) == (eur("46.00"), eur("6.00"), State.APPROVED)

    [charge] = requests(host, "0200")
    assert (charge.text(3), charge.text(4)) == ("000000", "000000004000")
    [advice] = requests(host, "0220", "0221")
    assert advice.mti == "0220"
    assert advice.text(3) == "020000"
    assert advice.text(4) == "000000004600"  # the new total
    assert advice.text(54) == "0044978C000000000600"  # account 00, gratuity, EUR, credit, tip
    assert advice.text(37) == f"RRN{charge.text(11)}" and advice.text(38) == paid.auth_code
    f90 = advice.text(90)
    assert (f90[:4], f90[4:10], f90[10:20]) == ("0200", charge.text(11), charge.text(7))
    assert f90[20:] == "00000000001" + "0" * 11
    assert advice.text(11) != charge.text(11)  # its own STAN
    assert advice.text(25) == "00" and advice.text(49) == "978"
    assert not {2, 14, 35, 55} & set(advice.fields)  # no card data: the host has the sale's
    assert 128 in advice.fields  # MAC'd like the others (F90 → secondary bitmap)
    assert host.mac_failures == 0 and host.refused == []

    assert host.ledger == [("sale", charge.text(11), 4600)]
    assert host.adjustments == [(advice.text(11), charge.text(11), 4600, 600)]
    assert closed.result == "balanced", closed.message
    [close] = requests(host, "0500")
    assert (close.text(76), close.text(88)) == ("0000000001", "0000000000004600")


async def test_adjust_after_close_is_refused_and_nothing_is_sent(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        paid = await sale(engine, "40.00")
        closed = await engine.close_batch()
        assert closed.result == "balanced", closed.message
        sent = len(host.received)
        with pytest.raises(TipNotAllowed, match=r"batch of sale .* is closed") as refusal:
            await engine.tip_adjust(paid.id, eur("6.00"), lambda step: None)
        row = engine.journal.get(paid.id)
    finally:
        await engine.stop()
    assert refusal.value.exit_code == 2
    assert "Nothing was sent." in refusal.value.sentence
    assert host.received[sent:] == [] and not requests(host, "0220", "0221")
    assert (row.amount, row.tip) == (eur("40.00"), None)


async def test_dropped_answer_is_sent_again_as_0221_once_the_link_is_back_and_booked_once(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    host.script = [lambda r: None, book_then_go_down(host)]  # the sale passes, the 0230 is lost
    engine = await started(iso_engine, mac=True)
    try:
        paid = await sale(engine, "40.00")
        adjusted = await engine.tip_adjust(paid.id, eur("6.00"), lambda step: None)
        waiting = engine.journal.get(adjusted.id).state
        moved = engine.journal.get(paid.id).amount
        with pytest.raises(TipNotAllowed, match="already in progress"):
            await engine.tip_adjust(paid.id, eur("4.00"), lambda step: None)
        down = await engine.flush()  # the link is down
        await host.start()  # and comes back
        report = await engine.flush()
        state = engine.journal.get(adjusted.id).state
        closed = await engine.close_batch()
    finally:
        await engine.stop()
    assert adjusted.result is Result.APPROVED_OFFLINE, adjusted.message
    assert "did not answer yet" in adjusted.message
    assert waiting is State.SUBMITTED  # queued, never reversed
    assert moved == eur("46.00")  # the terminal's totals carry the new total at once
    assert down.left == 1 and down.blocked
    assert report.left == 0
    assert state is State.APPROVED
    assert not requests(host, "0400", "0401")
    first, repeat = requests(host, "0220", "0221")
    assert (first.mti, repeat.mti) == ("0220", "0221")
    assert first.raw[4:-8] == repeat.raw[4:-8]  # byte for byte but the MTI and the MAC
    assert len(host.adjustments) == 1  # booked once
    assert host.ledger == [("sale", requests(host, "0200")[0].text(11), 4600)]
    assert closed.result == "balanced", closed.message


async def test_offline_sale_adjust_follows_its_advice_and_names_it_in_f90(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        await host.stop()
        paid = await sale(engine, "40.00")
        assert paid.result is Result.APPROVED_OFFLINE, paid.message
        adjusted = await engine.tip_adjust(paid.id, eur("6.00"), lambda step: None)
        await host.start()
        report = await engine.flush()
        closed = await engine.close_batch()
    finally:
        await engine.stop()
    assert adjusted.result is Result.APPROVED_OFFLINE, adjusted.message
    assert report.left == 0
    offline, adjustment = requests(host, "0220")
    assert offline.text(3) == "000000" and adjustment.text(3) == "020000"
    f90 = adjustment.text(90)
    assert (f90[:4], f90[4:10]) == ("0220", offline.text(11))
    assert 37 not in adjustment.fields  # made before the host had answered the advice
    assert host.adjustments == [(adjustment.text(11), offline.text(11), 4600, 600)]
    assert host.ledger == [("advice", offline.text(11), 4600)]
    assert closed.result == "balanced", closed.message


async def test_adjust_the_host_declines_gives_the_sale_its_total_back(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        paid = await sale(engine, "40.00")
        host.ledger.clear()  # the host has no sale to adjust: it answers 12
        adjusted = await engine.tip_adjust(paid.id, eur("6.00"), lambda step: None)
        row = engine.journal.get(paid.id)
        state = engine.journal.get(adjusted.id).state
    finally:
        await engine.stop()
    assert adjusted.result is Result.DECLINED, adjusted.message
    assert adjusted.code == "12"
    assert "declined the tip adjust" in adjusted.message
    assert state is State.DECLINED
    assert (row.amount, row.tip) == (eur("40.00"), None)
    assert host.adjustments == [] and not requests(host, "0221")
