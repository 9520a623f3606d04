"""How a capture that raised ends the sale: the one table from the driver's and the kernel's
errors to the result, the ISO code and the operator's sentence."""

from __future__ import annotations

import asyncio

import pytest

from drivers.base import (
    Cancelled,
    CardRemoved,
    DeviceBusy,
    DeviceLost,
    DeviceNotFound,
    DriverError,
    MultipleCards,
    NotAPaymentCard,
    Timeout,
)
from terminal.emv.errors import (
    ApplicationBlocked,
    CardDataError,
    CardExpired,
    CvmRequired,
    EmvError,
    NotEmvCard,
    TlvError,
    UnsupportedApplication,
)
from terminal.payment.api import Result
from terminal.payment.capture import Stopped, ending, wait_for_device

R = Result


@pytest.mark.parametrize(
    ("error", "result", "code"),
    [
        (Cancelled("The wait for a card was cancelled."), R.CANCELLED, ""),
        (Timeout("No card or phone was presented within 5 seconds."), R.CANCELLED, ""),
        (CardRemoved("Hold it still."), R.CANCELLED, ""),
        (MultipleCards("Only one card, please."), R.CANCELLED, ""),
        (NotAPaymentCard("A transit card, not a payment card."), R.DECLINED, ""),
        (DeviceNotFound("No NFC reader found."), R.ERROR, ""),
        (DeviceBusy("The reader is in use."), R.ERROR, ""),
        (DeviceLost("Reader unplugged."), R.ERROR, ""),
        (CardExpired("2401"), R.DECLINED, "54"),
        (CvmRequired("75.00 EUR", "50.00 EUR"), R.DECLINED, "65"),
        (ApplicationBlocked(), R.DECLINED, "05"),
        (NotEmvCard("no PPSE"), R.DECLINED, ""),
        (UnsupportedApplication(["A0000000999999"]), R.DECLINED, ""),
        (CardDataError("empty answer"), R.CANCELLED, ""),
        (TlvError("length runs past the end", 3), R.CANCELLED, ""),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_each_device_or_card_error_ends_the_sale_in_its_own_words(
    error: DriverError | EmvError, result: Result, code: str
) -> None:
    stop = ending(error)
    assert stop is not None
    assert (stop.result, stop.code, stop.sentence) == (result, code, error.sentence)


def test_a_bug_is_not_disguised_as_a_refusal() -> None:
    assert ending(KeyError("masked_pan")) is None


async def test_the_device_raising_ends_the_wait_as_the_table_says() -> None:
    async def pulled_away() -> None:
        raise CardRemoved("The card was taken away too soon — tap again.")

    with pytest.raises(Stopped) as caught:
        await wait_for_device(pulled_away(), asyncio.Event(), timeout=5)
    assert caught.value.result is Result.CANCELLED
    assert caught.value.sentence == "The card was taken away too soon — tap again."
