"""nfcpy's exceptions as the `drivers.base` tree: the one map, used at every nfcpy call.

nfcpy raises the standard library's errors (`OSError` for a reader that went away or is held
by another program, `ValueError`/`AssertionError` for a path it cannot parse) next to its own
(`nfc.clf.CommunicationError`, `nfc.tag.TagCommandError`, `nfc.clf.UnsupportedTargetError`).
What the same exception means depends on what the reader was doing, so each call names its
step; `NFCPY_ERRORS` says, per step, which exception becomes which `DriverError` and with
which sentence. Nothing above the driver sees an nfcpy exception.

    step    nfcpy / chip exception                        drivers.base error
    open    OSError EBUSY, EACCES, EPERM                  DeviceBusy
    open    OSError (anything else)                       DeviceNotFound
    open    ValueError, TypeError, AssertionError         DeviceNotFound (not a reader path)
    poll    UnsupportedTargetError                        DeviceNotFound (cannot poll that)
    poll    MalformedListAnswer (the chip's own listing)  DeviceLost
    card    TagCommandError, CommunicationError           CardRemoved
    poll    OSError                                       DeviceLost
    card    OSError                                       DeviceLost
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import nfc.clf
import nfc.tag

from drivers.base import CardRemoved, DeviceBusy, DeviceLost, DeviceNotFound, DriverError
from drivers.nfc.collision import MalformedListAnswer

Step = Literal["open", "poll", "card"]
"""open: opening the reader; poll: sensing, counting and activating cards; card: APDUs."""

CARD_REMOVED = (
    "The card was taken away too soon — ask the customer to tap again and hold it still "
    "until the beep."
)
MULTIPLE_CARDS = "More than one card is in the field — ask the customer to present only one card."
NOT_A_PAYMENT_CARD = (
    "This is a tag or a transit card, not a payment card — ask for a payment card or phone."
)
_BUSY = (errno.EBUSY, errno.EACCES, errno.EPERM)


def reader_lost(path: str, detail: str = "") -> DeviceLost:
    return DeviceLost(
        "The NFC reader stopped answering (unplugged?) — check its cable and try again; "
        "nothing was charged.",
        device=path,
        detail=detail,
    )


def _not_opened(path: str, error: BaseException) -> DriverError:
    if isinstance(error, OSError) and error.errno in _BUSY:
        return DeviceBusy(
            f"The NFC reader at '{path}' is in use or not accessible — close the other "
            "program, or give the posterm user access (udev rule) and unload the "
            "kernel's pn533 driver.",
            device=path,
            detail=str(error),
        )
    return DeviceNotFound(
        f"No NFC reader found at '{path}' — check that it is plugged in and that "
        "devices.nfc names it (usb, usb:VID:PID, tty:USB0:pn532).",
        device=path,
        detail=str(error),
    )


def _not_a_path(path: str, error: BaseException) -> DriverError:
    return DeviceNotFound(
        f"'{path}' is not an NFC reader path (usb, usb:VID:PID, tty:USB0:pn532, udp:HOST:PORT).",
        device=path,
        detail=str(error),
    )


def _cannot_poll(path: str, error: BaseException) -> DriverError:
    return DeviceNotFound(
        f"The NFC reader at '{path}' cannot poll the card technologies posterm needs "
        "(ISO 14443 A/B) — choose another reader.",
        device=path,
        detail=str(error),
    )


def _lost(path: str, error: BaseException) -> DriverError:
    return reader_lost(path, str(error))


def _removed(path: str, error: BaseException) -> DriverError:
    return CardRemoved(CARD_REMOVED, device=path, detail=str(error) or type(error).__name__)


@dataclass(frozen=True, slots=True)
class Rule:
    steps: tuple[Step, ...]
    raised: tuple[type[BaseException], ...]
    becomes: Callable[[str, BaseException], DriverError]


NFCPY_ERRORS: tuple[Rule, ...] = (
    Rule(("open",), (OSError,), _not_opened),
    Rule(("open",), (ValueError, TypeError, AssertionError), _not_a_path),
    Rule(("poll",), (nfc.clf.UnsupportedTargetError,), _cannot_poll),
    Rule(("poll",), (MalformedListAnswer,), _lost),
    Rule(("card",), (nfc.tag.TagCommandError, nfc.clf.CommunicationError), _removed),
    Rule(("poll", "card"), (OSError,), _lost),
)
"""First match wins; an exception no rule names is a bug and is not disguised."""


def driver_error(error: BaseException, path: str, step: Step) -> DriverError | None:
    """`error`, raised by nfcpy during `step` on the reader at `path`, as a `DriverError`;
    None when no rule names it."""
    for rule in NFCPY_ERRORS:
        if step in rule.steps and isinstance(error, rule.raised):
            return rule.becomes(path, error)
    return None


@contextmanager
def nfcpy_errors(path: str, step: Step) -> Iterator[None]:
    """Run nfcpy calls with their exceptions translated by `NFCPY_ERRORS`."""
    try:
        yield
    except DriverError:
        raise
    except Exception as error:
        translated = driver_error(error, path, step)
        if translated is None:
            raise
        raise translated from None
