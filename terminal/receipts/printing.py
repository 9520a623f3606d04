"""Printing receipts without ever losing a sale to a printer problem.

The sale is already in the journal when its receipt is printed; a printer that is out of paper
or offline only yields a sentence for the operator, and the receipt can be reprinted from
history. Printing blocks on serial I/O, so callers run it in a worker thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from drivers.base import DriverError, PaperOut, PrinterError, PrintLine, ReceiptPrinter
from terminal.i18n import _
from terminal.payment.api import TransactionView
from terminal.receipts.layout import DEFAULT_COLUMNS, receipt_lines
from terminal.receipts.model import Copy, receipt_for
from terminal.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PrintReport:
    """What became of a print job, in words for the operator."""

    printed: bool
    sentence: str
    state: str
    """Printer state for the status bar: ok, paper out, offline, none."""


class ReceiptPrinting:
    """Prints the copies of a transaction's receipt on the configured printer (if any)."""

    def __init__(
        self,
        settings: Settings,
        printer: ReceiptPrinter | None,
        *,
        columns: int = DEFAULT_COLUMNS,
    ) -> None:
        self.settings = settings
        self.printer = printer
        self.columns = columns
        self.state = "ok" if printer is not None else "none"
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self.printer is not None

    def print_receipt(
        self, view: TransactionView, copies: tuple[Copy, ...] = (Copy.MERCHANT, Copy.CUSTOMER)
    ) -> PrintReport:
        """Print `copies` of the receipt for `view`; never raises for a printer problem."""
        if self.printer is None:
            return PrintReport(False, _("No receipt printer is configured."), "none")
        with self._lock:
            try:
                for copy in copies:
                    lines = receipt_lines(receipt_for(view, self.settings, copy), self.columns)
                    self.printer.print_lines(lines, cut=True)
            except PaperOut:
                self.state = "paper out"
                return PrintReport(
                    False,
                    _(
                        "The printer is out of paper. The payment is recorded: load paper, "
                        "then reprint from history."
                    ),
                    self.state,
                )
            except PrinterError as error:
                self.state = "offline"
                log.warning("receipt not printed: %s", error.detail or error.sentence)
                return PrintReport(
                    False,
                    _(
                        "The printer is offline. The payment is recorded: check the printer, "
                        "then reprint from history."
                    ),
                    self.state,
                )
            except DriverError as error:
                self.state = "offline"
                return PrintReport(False, error.sentence, self.state)
        self.state = "ok"
        return PrintReport(True, _("Receipt printed."), self.state)

    def print_text(self, texts: list[str]) -> str:
        """Print a till's own lines (nexo PrintRequest) and cut; "" or why it could not."""
        if self.printer is None:
            return _("No receipt printer is configured.")
        with self._lock:
            try:
                self.printer.print_lines([PrintLine(text) for text in texts], cut=True)
            except PaperOut:
                self.state = "paper out"
                return _("The printer is out of paper.")
            except DriverError as error:
                self.state = "offline"
                return error.sentence
        self.state = "ok"
        return ""

    def check(self) -> str:
        """Ask the printer for its state (ok, paper out, offline, none) for the status bar."""
        if self.printer is None:
            return "none"
        with self._lock:
            try:
                self.printer.check()
                self.state = "ok"
            except PaperOut:
                self.state = "paper out"
            except DriverError:
                self.state = "offline"
        return self.state

    def close(self) -> None:
        if self.printer is not None:
            self.printer.close()
