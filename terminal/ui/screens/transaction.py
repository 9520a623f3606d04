"""One transaction: its receipt on screen, and reprint / refund / void from here."""

from __future__ import annotations

from typing import cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from terminal.i18n import N_, _, active
from terminal.money import Amount
from terminal.payment.api import CounterEngine, Outcome, Result, TransactionView
from terminal.payment.errors import PaymentError
from terminal.receipts import Copy, receipt_for, receipt_text
from terminal.ui.messages import ReceiptPrinted
from terminal.ui.screens.base import PostermModalScreen
from terminal.ui.widgets.keys_bar import KeysBar

KEYS = [
    ("R", N_("Refund")),
    ("V", N_("Void")),
    ("T", N_("Tip")),
    ("P", N_("Reprint")),
    ("Esc", N_("Back")),
]


def approved_sale(view: TransactionView) -> bool:
    return view.type == "sale" and (view.result or view.state) in ("approved", "approved_offline")


class TransactionScreen(PostermModalScreen[None]):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), show=False),
        Binding("r", "refund", N_("Refund"), show=False),
        Binding("v", "void", N_("Void"), show=False),
        Binding("p", "reprint", N_("Reprint"), show=False),
        Binding("t", "tip", N_("Tip"), show=False),
    ]

    def __init__(self, view: TransactionView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with Vertical(id="txn-dialog", classes="dialog"):
            with VerticalScroll(id="txn-receipt"):
                yield Static(self._details(), markup=False, id="txn-text")
            yield KeysBar(KEYS)

    def _details(self) -> str:
        receipt = receipt_for(self.view, self.papp.settings, Copy.MERCHANT)
        text = receipt_text(receipt, 42)
        if self.view.refunded is not None and not self.view.refunded.is_zero:
            text += "\n" + _("Refunded so far: {amount}").format(
                amount=active().amount(self.view.refunded)
            )
        return text

    def _guarded(self, kind: str) -> None:
        if not approved_sale(self.view):
            self.notify(_("Only an approved sale can be refunded or voided."), severity="warning")
            return
        if not self.papp.settings.ui.supervisor_pin_hash:
            self.notify(
                _("Refunds and voids need a supervisor PIN: set ui.supervisor_pin_hash."),
                severity="error",
            )
            return
        from terminal.ui.screens.supervisor import SupervisorScreen

        self.app.push_screen(SupervisorScreen(kind, self.view), self._after)

    def _after(self, changed: bool | None) -> None:
        if changed:
            self.dismiss()

    def action_refund(self) -> None:
        self._guarded("refund")

    def action_void(self) -> None:
        self._guarded("void")

    def action_tip(self) -> None:
        """Tip adjust (terminal/payment/tips.py): choose the new tip, the engine checks it
        (switched off, above the maximum, batch closed: said as it is, nothing sent)."""
        if not approved_sale(self.view) or not hasattr(self.papp.engine, "tip_adjust"):
            self.notify(_("Only an approved card sale takes a tip adjust."), severity="warning")
            return
        from terminal.ui.screens.tip import TipScreen

        base = self.view.amount - self.view.tip if self.view.tip else self.view.amount
        self.app.push_screen(TipScreen(base, self.papp.settings.ui.tip_presets), self._tip_chosen)

    def _tip_chosen(self, tip: Amount | None) -> None:
        if tip is not None:
            self.run_worker(self._adjust_tip(tip), exclusive=True, group="tip")

    async def _adjust_tip(self, tip: Amount) -> None:
        engine = cast(CounterEngine, self.papp.engine)
        try:
            outcome: Outcome = await engine.tip_adjust(self.view.id, tip, lambda step: None)
        except PaymentError as refusal:
            self.notify(refusal.sentence, severity="error")
            return
        approved = outcome.result is Result.APPROVED
        self.notify(outcome.message, severity="information" if approved else "error")
        if approved:
            self.view = engine.transaction(self.view.id)
            self.query_one("#txn-text", Static).update(self._details())

    def action_reprint(self) -> None:
        printing = self.papp.printing
        if not printing.configured:
            self.notify(_("No receipt printer is configured."), severity="warning")
            return
        view = self.view

        def job() -> None:
            self.papp.deliver(ReceiptPrinted(printing.print_receipt(view)), self)

        self.run_worker(job, thread=True, group="print")

    def on_receipt_printed(self, message: ReceiptPrinted) -> None:
        self.papp.devices["printer"] = message.report.state
        self.notify(
            message.report.sentence, severity="information" if message.report.printed else "error"
        )

    def action_back(self) -> None:
        self.dismiss()
