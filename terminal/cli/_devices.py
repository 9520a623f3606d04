"""Devices for the long-running commands (`run`, `serve`): every configured device is opened
through `terminal.wiring`; a device kind this build lacks, or one that is not configured, is
simply absent and the methods that need it answer with a sentence."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from drivers.base import DriverError, LineDisplay, ReceiptPrinter
from terminal.errors import PostermError

if TYPE_CHECKING:
    from terminal.settings import Settings

log = logging.getLogger(__name__)


def optional_device(module_name: str, factory: str, settings: Settings) -> Any:
    """`terminal.wiring.<module>.<factory>(settings)`, or None if unavailable."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    make = getattr(module, factory, None)
    if make is None:
        return None
    try:
        return make(settings)
    except (PostermError, DriverError) as error:
        log.warning("%s not available: %s", module_name, error.sentence)
        return None


def printer_and_display(settings: Settings) -> tuple[ReceiptPrinter | None, LineDisplay | None]:
    from terminal.wiring.printer import open_customer_display, open_receipt_printer

    printer = display = None
    try:
        printer = open_receipt_printer(settings)
    except DriverError as error:
        log.warning("receipt printer not available: %s", error.sentence)
    try:
        display = open_customer_display(settings)
    except DriverError as error:
        log.warning("customer display not available: %s", error.sentence)
    return printer, display


def build_engine_for(settings: Settings, presenter: Any) -> Any:
    """The engine with every configured device (raises `PostermError` with the fix)."""
    try:
        from terminal.payment.factory import build_engine
    except ModuleNotFoundError:
        raise PostermError(
            "This posterm has no payment engine installed (terminal.payment.factory); "
            "reinstall posterm."
        ) from None
    # A device that is not configured costs no import: nfcpy, OpenCV and numpy load only for
    # the devices this terminal has.
    return build_engine(
        settings,
        card_capture=optional_device("terminal.wiring.nfc", "card_capture", settings)
        if settings.devices.nfc != "none"
        else None,
        code_scanner=optional_device("terminal.wiring.camera", "code_scanner", settings)
        if settings.devices.camera.strip() not in ("", "none")
        else None,
        code_presenter=presenter,
    )
