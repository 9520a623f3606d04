"""What the payment commands share: running the engine, devices, output and exit codes.

stdout carries only the result (one JSON object with `--json`), progress goes to stderr, so a
till program can read stdout while a person watches stderr. With `--json`, even a refusal
(bad config, unknown id, journal full) prints one object with `result` "error" and the
sentence in `message`, and the exit code says which kind: 2 usage/config, 3 device/gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from drivers.base import DriverError
from terminal.cli._common import print_json, progress, settings_from
from terminal.errors import PostermError
from terminal.money import Amount
from terminal.payment.api import (
    CardCapture,
    CodePresenter,
    CodeScanner,
    EntryMethod,
    Outcome,
    Progress,
    Result,
)
from terminal.payment.errors import DeviceUnavailable

if TYPE_CHECKING:
    from terminal.settings import Settings

T = TypeVar("T")
log = logging.getLogger("terminal.cli")

WIRING = {
    EntryMethod.NFC: ("terminal.wiring.nfc", "card_capture", "devices.nfc", "NFC card reader"),
    EntryMethod.QR_SCAN: ("terminal.wiring.camera", "code_scanner", "devices.camera", "camera"),
}
"""Where each entry method's device comes from: module, factory(settings), config key, name."""


def wired_device(method: EntryMethod, settings: Settings) -> Any:
    """Open the device an entry method needs through `terminal.wiring` (imported lazily, so a
    build without a device kind still runs every other command)."""
    if method not in WIRING:
        return None
    module_name, factory_name, key, name = WIRING[method]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise DeviceUnavailable(
            f"This posterm has no {name} support installed ({module_name}); "
            "use another payment method or install the full package."
        ) from None
    factory = getattr(module, factory_name, None)
    if factory is None:
        raise DeviceUnavailable(f"{module_name} has no {factory_name}(); reinstall posterm.")
    try:
        device = factory(settings)
    except DriverError as error:
        raise DeviceUnavailable(error.sentence) from None
    if device is None:
        raise DeviceUnavailable(f'No {name} is configured ({key} = "none"); set {key}.')
    return device


class StderrPresenter:
    """Shows a merchant-presented code on the terminal's own console (headless `pay`)."""

    def show(self, payload: str, amount: Amount, expires_at: Any) -> None:
        progress(f"Scan to pay {amount}: {payload}")
        with contextlib.suppress(Exception):
            import io

            import qrcode

            code = qrcode.QRCode(border=1)
            code.add_data(payload)
            buffer = io.StringIO()
            code.print_ascii(out=buffer, invert=True)
            progress(buffer.getvalue())

    def clear(self) -> None:
        return None


def devices_for(
    method: EntryMethod, settings: Settings
) -> tuple[CardCapture | None, CodeScanner | None, CodePresenter | None]:
    capture = wired_device(EntryMethod.NFC, settings) if method is EntryMethod.NFC else None
    scanner = wired_device(EntryMethod.QR_SCAN, settings) if method is EntryMethod.QR_SCAN else None
    presenter: CodePresenter | None = None
    if method is EntryMethod.QR_SHOW:
        try:
            from terminal.wiring.camera import code_presenter

            presenter = code_presenter(settings)
        except ImportError:  # a build without the camera/QR parts: show the text
            presenter = StderrPresenter()
    return capture, scanner, presenter


def show_progress(step: Progress) -> None:
    if step.message:
        progress(step.message)


def run(coro_factory: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run one engine operation; Ctrl-C or SIGTERM ask it to cancel instead of killing it."""

    async def main() -> T:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, cancel.set)
        return await coro_factory(cancel)

    return asyncio.run(main())


UNKNOWN_AMOUNT: dict[str, Any] = {"value": None, "currency": None}
"""The `amount` of a refusal whose amount could not be read: same keys, null values."""


def error_object(
    sentence: str,
    amount: dict[str, Any] | None = None,
    *,
    id: str = "",
    entry: str = "",
    result: Result = Result.ERROR,
) -> dict[str, Any]:
    """The `--json` object for a command that ended without a transaction outcome: the same
    keys as `Outcome.to_json`, with as much of the request (amount, entry) as could be read."""
    return {
        "id": id,
        "result": result.value,
        "code": "",
        "auth_code": "",
        "amount": dict(amount) if amount else dict(UNKNOWN_AMOUNT),
        "entry": entry,
        "masked_pan": "",
        "message": sentence,
    }


def report(args: argparse.Namespace, outcome: Outcome) -> int:
    """Print an outcome (JSON or one human line) and return its exit code."""
    if getattr(args, "json", False):
        print_json(outcome.to_json())
    else:
        parts = [outcome.result.value, str(outcome.amount)]
        if outcome.masked_pan:
            parts.append(outcome.masked_pan)
        if outcome.auth_code:
            parts.append(f"auth {outcome.auth_code}")
        if outcome.code:
            parts.append(f"code {outcome.code}")
        if outcome.id:
            parts.append(f"id {outcome.id}")
        print("  ".join(parts))
        if outcome.message:
            progress(outcome.message)
    return outcome.result.exit_code


def guarded(
    args: argparse.Namespace,
    body: Callable[[Settings], int],
    amount: Callable[[Settings | None], dict[str, Any] | None] = lambda settings: None,
    *,
    entry: str = "",
) -> int:
    """Run `body`; with `--json`, a refusal before the engine runs (configuration, the
    request's check, a missing device, a refund the journal refuses) still prints one object
    on stdout, with the amount as far as `amount(settings)` can read it (settings is None when
    the configuration itself was refused) and the requested `entry`. The engine's own failures
    come back as outcomes; a failure of the command itself is logged and reported the same
    way (exit 3), so a till never has to parse a missing answer."""
    settings: Settings | None = None
    try:
        settings = settings_from(args, quiet_logs=True)
        return body(settings)
    except PostermError as error:
        if not getattr(args, "json", False):
            raise
        print_json(error_object(error.sentence, amount(settings), entry=entry))
        progress(f"posterm: {error.sentence}")
        return error.exit_code
    except Exception as error:
        if not getattr(args, "json", False):
            raise
        log.exception("unexpected error in %s", getattr(args, "command", "?"))
        sentence = (
            f"Internal error ({type(error).__name__}); details are in the log. "
            "Nothing was charged twice: the journal is consistent."
        )
        print_json(error_object(sentence, amount(settings), entry=entry))
        progress(f"posterm: {sentence}")
        return 3
