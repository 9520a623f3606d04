"""What the customer sees on a pole display during a sale: the amount, then the result.

A display problem never stops a sale: it is logged and the display is left alone until the
next sale. Pole displays show single-byte characters only, so their texts stay in English.
"""

from __future__ import annotations

import logging
import threading

from drivers.base import DriverError, LineDisplay
from terminal.money import Amount

log = logging.getLogger(__name__)

RESULTS = {
    "approved": "APPROVED",
    "approved_offline": "APPROVED",
    "declined": "DECLINED",
    "cancelled": "CANCELLED",
    "error": "NOT COMPLETED",
}


class CustomerDisplay:
    def __init__(self, display: LineDisplay | None) -> None:
        self.display = display
        self.state = "ready" if display is not None else "none"
        self._lock = threading.Lock()

    def amount(self, amount: Amount, hint: str = "") -> None:
        self._show([amount.format_display("en"), hint or "Please tap your card"])

    def result(self, result: str, amount: Amount) -> None:
        self._show([RESULTS.get(result, result.upper()), amount.format_display("en")])

    def text(self, lines: list[str]) -> None:
        """Show lines a till sent (nexo DisplayRequest)."""
        self._show(lines[:4] or [""])

    def idle(self) -> None:
        self._show(["Welcome", ""])

    def _show(self, lines: list[str]) -> None:
        if self.display is None:
            return
        with self._lock:
            try:
                self.display.show(lines)
                self.state = "ready"
            except DriverError as error:
                self.state = "offline"
                log.warning("customer display: %s", error.sentence)
