"""The customer copy of a receipt, previewed on screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from terminal.i18n import N_
from terminal.payment.api import TransactionView
from terminal.receipts import Copy, receipt_for, receipt_text
from terminal.ui.screens.base import PostermModalScreen
from terminal.ui.widgets.keys_bar import KeysBar


class ReceiptScreen(PostermModalScreen[None]):
    BINDINGS = [Binding("escape,r,enter", "back", N_("Back"), show=False)]

    def __init__(self, view: TransactionView, copy: Copy = Copy.CUSTOMER) -> None:
        super().__init__()
        self.view = view
        self.copy = copy

    def compose(self) -> ComposeResult:
        text = receipt_text(receipt_for(self.view, self.papp.settings, self.copy), 42)
        with Vertical(id="receipt-dialog", classes="dialog"):
            with VerticalScroll():
                yield Static(text, markup=False, id="receipt-text")
            yield KeysBar([("Esc", N_("Back"))])

    def action_back(self) -> None:
        self.dismiss()
