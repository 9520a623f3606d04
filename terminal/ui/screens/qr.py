"""The merchant-presented QR code, big enough to scan, with the amount and a countdown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from terminal.i18n import N_, _, active
from terminal.money import Amount
from terminal.ui.widgets.keys_bar import KeysBar
from terminal.ui.widgets.qr_view import QrView
from terminal.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from terminal.ui.screens.sale import SaleScreen


def parse_expiry(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def countdown(expires_at: datetime | None, now: datetime) -> str:
    """ "1:59" until the code expires; "0:00" once it has."""
    if expires_at is None:
        return ""
    left = max(0, int((expires_at - now).total_seconds()))
    return f"{left // 60}:{left % 60:02d}"


class QrScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), show=False)]

    def __init__(self, payload: str, amount: Amount, expires_at: str, sale: SaleScreen) -> None:
        super().__init__()
        self.payload = payload
        self.amount = amount
        self.expires_at = parse_expiry(expires_at)
        self.sale = sale

    def compose(self) -> ComposeResult:
        # Everything but the status bar is the code's: 22 lines on an 80 x 24 screen.
        with Horizontal(id="qr-body"):
            yield QrView(self.payload, max_lines=self.app.size.height - 1, id="qr")
            with Vertical(id="qr-side"):
                yield Static(_("Scan to pay"), classes="heading")
                yield Static(active().amount(self.amount), id="qr-amount")
                yield Static("", id="qr-countdown")
                yield Static(_("Waiting for the customer's wallet…"), id="qr-state")
                yield KeysBar([("Esc", N_("Cancel"))])
        yield StatusBar()

    def on_mount(self) -> None:
        self.tick()
        self.set_interval(1.0, self.tick)

    def tick(self) -> None:
        left = countdown(self.expires_at, datetime.now(UTC))
        if left:
            self.query_one("#qr-countdown", Static).update(_("Expires in {time}").format(time=left))

    def action_cancel(self) -> None:
        self.sale.action_cancel()
