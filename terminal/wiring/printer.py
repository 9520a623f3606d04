"""Opens the receipt printer and the customer display named in settings (devices.*)."""

from __future__ import annotations

from drivers.base import LineDisplay, ReceiptPrinter
from terminal.settings import Settings


def open_receipt_printer(settings: Settings) -> ReceiptPrinter | None:
    """The configured printer, or None when devices.printer is "none".

    Opening does not touch the port: a printer that is off at start-up still lets the terminal
    take payments, and its state shows in the status bar.
    """
    url = settings.devices.printer
    if url == "none":
        return None
    from drivers.printer.escpos_serial import SerialReceiptPrinter  # python-escpos is slow to load

    return SerialReceiptPrinter(url, columns=settings.ui.receipt_columns)


def open_customer_display(settings: Settings) -> LineDisplay | None:
    """The configured customer display, or None (raises `DeviceNotFound` if unreachable)."""
    url = settings.devices.display
    if url == "none":
        return None
    from drivers.display.serial_display import SerialLineDisplay

    return SerialLineDisplay(url)
