"""Waiting for the customer's card or code: the injected device, the operator's cancel and
the timeout, whichever comes first. Every way it can end without a card becomes `Stopped`
with the operator's sentence; nothing has been sent at this point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from drivers.base import Cancelled as DeviceCancelled
from drivers.base import DriverError
from drivers.base import Timeout as DeviceTimeout
from terminal.emv.card_data import CardData
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

    def __init__(self, result: Result, sentence: str) -> None:
        super().__init__(sentence)
        self.result = result
        self.sentence = sentence


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
    except (DeviceCancelled, asyncio.CancelledError):
        raise Stopped(Result.CANCELLED, "Cancelled.") from None
    except DeviceTimeout as error:
        raise Stopped(Result.CANCELLED, error.sentence) from None
    except PostermError as error:
        # The kernel's refusals of the card (expired, PIN needed, not a payment card, tap
        # again) carry exit code 1: nothing was sent, the sale just did not happen.
        result = Result.CANCELLED if error.exit_code == 1 else Result.ERROR
        raise Stopped(result, error.sentence) from None
    except DriverError as error:
        raise Stopped(Result.ERROR, error.sentence) from None
