"""Waiting for the customer's card or code: the injected device, the operator's cancel and
the timeout, whichever comes first. Every way it can end without a card becomes `Stopped`
with the operator's sentence; nothing has been sent at this point.

A device says what went wrong in its own words: the driver's `DriverError` (reader, field,
camera) or the contactless kernel's `EmvError` (this card cannot pay this sale). `ENDINGS` is
the one place either becomes how the sale ends (result, ISO code, sentence).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from drivers.base import Cancelled as DeviceCancelled
from drivers.base import CardError, DriverError, NotAPaymentCard
from drivers.base import Timeout as DeviceTimeout
from terminal.emv.card_data import CardData
from terminal.emv.errors import (
    ApplicationBlocked,
    CardDataError,
    CardDeclinedOffline,
    CardExpired,
    ContactlessLimitExceeded,
    CvmRequired,
    EmvError,
)
from terminal.errors import PostermError
from terminal.payment.api import (
    CardCapture,
    CodeScanner,
    Progress,
    ProgressCallback,
    Result,
    SaleRequest,
    Stage,
)

T = TypeVar("T")


class Stopped(Exception):
    """The capture step ended the sale early (cancelled, timeout, device error)."""

    def __init__(self, result: Result, sentence: str, code: str = "") -> None:
        super().__init__(sentence)
        self.result = result
        self.sentence = sentence
        self.code = code


@dataclass(frozen=True, slots=True)
class Ending:
    """Raised one of `raised`: the sale ends with `result` and `code`, in the exception's own
    sentence (`sentence` when it carries none)."""

    raised: tuple[type[BaseException], ...]
    result: Result
    code: str = ""
    sentence: str = ""


ENDINGS: tuple[Ending, ...] = (
    # the reader, the camera and the field (drivers.base)
    Ending((DeviceCancelled, asyncio.CancelledError), Result.CANCELLED, sentence="Cancelled."),
    Ending((DeviceTimeout,), Result.CANCELLED),
    Ending((NotAPaymentCard,), Result.DECLINED),  # a tag or transit card: another card
    Ending((CardError,), Result.CANCELLED),  # pulled away too soon, two cards: tap again
    Ending((DriverError,), Result.ERROR),  # no reader, unplugged, busy, no camera
    # the contactless kernel (terminal.emv.errors): this card cannot pay this sale
    Ending((CardExpired,), Result.DECLINED, "54"),  # as risk.card_expired and the issuer
    Ending((CardDeclinedOffline, ApplicationBlocked), Result.DECLINED, "05"),
    Ending((ContactlessLimitExceeded,), Result.DECLINED, "61"),  # as risk.check_sale
    Ending((CvmRequired,), Result.DECLINED, "65"),  # as risk.check_card
    Ending((CardDataError,), Result.CANCELLED),  # the card's answer was unusable: tap again
    Ending((EmvError,), Result.DECLINED),  # not a payment card, scheme not accepted, ...
    Ending((PostermError,), Result.ERROR),
)
"""First match wins; anything else is a bug, which the engine's guard ends as an error."""


def ending(error: BaseException) -> Stopped | None:
    """How the sale ends when capturing raised `error` (None: not a capture's ending)."""
    for row in ENDINGS:
        if isinstance(error, row.raised):
            sentence = getattr(error, "sentence", "") or row.sentence or str(error)
            return Stopped(row.result, sentence, row.code)
    return None


async def read_card(
    capture: CardCapture | None,
    txn_id: str,
    request: SaleRequest,
    timeout: float,
    progress: ProgressCallback,
    cancel: asyncio.Event,
) -> CardData:
    """The tapped card, or `Stopped` (no reader, cancel, timeout, a refused card)."""
    if capture is None:
        raise Stopped(
            Result.ERROR,
            "No card reader is available (devices.nfc); check the reader and the settings.",
        )
    progress(Progress(Stage.WAITING_FOR_CARD, f"Present card or phone: {request.amount}", txn_id))
    return await wait_for_device(
        capture.read_card(request.amount, cancel, progress), cancel, timeout
    )


async def scan_code(
    scanner: CodeScanner | None,
    txn_id: str,
    timeout: float,
    progress: ProgressCallback,
    cancel: asyncio.Event,
) -> str:
    """The scanned code's text, or `Stopped`."""
    if scanner is None:
        raise Stopped(
            Result.ERROR,
            "No camera is available for scanning (devices.camera); check the configuration.",
        )
    progress(Progress(Stage.SCANNING, "Show the payment code to the camera.", txn_id))
    return await wait_for_device(scanner.scan(cancel, timeout), cancel, timeout + 1.0)


async def wait_for_device(work: Awaitable[T], cancel: asyncio.Event, timeout: float) -> T:
    """Wait for a device step, the operator's cancel, or the timeout, whichever is first."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(cancel.wait())
    try:
        done, _ = await asyncio.wait(
            {task, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopper.cancel()
    if task not in done:
        cancel.set()
        task.cancel()
        try:
            await task
        except BaseException:  # noqa: S110 - the device's own ending does not matter now
            pass
        if stopper in done:
            raise Stopped(Result.CANCELLED, "Cancelled by the operator.")
        raise Stopped(Result.CANCELLED, f"No card or code within {timeout:.0f} s: cancelled.")
    try:
        return task.result()
    except BaseException as error:
        stop = ending(error)
        if stop is None:
            raise
        raise stop from None
