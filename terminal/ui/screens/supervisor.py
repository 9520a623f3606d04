"""Refund or void of a sale, after the supervisor's PIN."""

from __future__ import annotations

import asyncio
import logging

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from terminal.i18n import N_, _, active
from terminal.i18n.words import decline_reason
from terminal.money import Amount, AmountError
from terminal.payment.api import Outcome, Progress, Result, TransactionView
from terminal.payment.authority import audit_adjustment
from terminal.payment.errors import PaymentError
from terminal.ui.screens.base import PostermModalScreen
from terminal.ui.screens.pin_check import pin_refusal
from terminal.ui.widgets.keys_bar import KeysBar

log = logging.getLogger(__name__)


def remaining(view: TransactionView) -> Amount:
    """What is left to refund of a sale."""
    if view.refunded is None:
        return view.amount
    return view.amount - view.refunded


class SupervisorScreen(PostermModalScreen[bool]):
    """Dismisses with True once the refund or void went through."""

    BINDINGS = [Binding("escape", "close", N_("Back"), show=False)]

    def __init__(self, kind: str, view: TransactionView) -> None:
        super().__init__()
        self.kind = kind
        self.view = view
        self.done = False
        self.busy = False

    def compose(self) -> ComposeResult:
        tr = active()
        if self.kind == "refund":
            title = _("Refund of the sale of {amount}").format(amount=tr.amount(self.view.amount))
        else:
            title = _("Void of the sale of {amount}").format(amount=tr.amount(self.view.amount))
        with Vertical(id="pin-dialog", classes="dialog"):
            yield Static(title, classes="heading", markup=False)
            if self.view.masked_pan:
                yield Static(_("Card") + " " + self.view.masked_pan, markup=False)
            if self.kind == "refund":
                yield Static(_("Amount to refund"))
                yield Input(remaining(self.view).format_plain(), id="refund-amount")
            yield Static(_("Supervisor PIN"))
            yield Input(password=True, id="pin", placeholder="••••")
            yield Static("", id="pin-result")
            yield KeysBar([("Enter", N_("Confirm")), ("Esc", N_("Back"))])

    def on_mount(self) -> None:
        self.query_one("#pin", Input).focus()

    def _say(self, text: str | Text, style: str = "") -> None:
        result = self.query_one("#pin-result", Static)
        result.update(text)
        result.set_classes(style)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "refund-amount":
            self.query_one("#pin", Input).focus()
            return
        if self.busy or self.done:
            return
        pin_input = self.query_one("#pin", Input)
        pin = pin_input.value
        pin_input.value = ""
        amount: Amount | None = None
        if self.kind == "refund":
            try:
                amount = Amount.parse(
                    self.query_one("#refund-amount", Input).value,
                    self.view.amount.currency,
                    allow_zero=False,
                )
            except AmountError as error:
                self._say(error.sentence, "declined")
                return
            if amount > remaining(self.view):
                self._say(
                    _("That is more than is left to refund ({amount}).").format(
                        amount=active().amount(remaining(self.view))
                    ),
                    "declined",
                )
                return
        self.busy = True
        self.run_worker(self._check_then_run(pin, amount), exclusive=True)

    async def _check_then_run(self, pin: str, amount: Amount | None) -> None:
        """The PIN check (argon2, shared attempt counter, audit) runs off the event loop."""
        nothing = _("Nothing was refunded.") if self.kind == "refund" else _("Nothing was voided.")
        refusal = await pin_refusal(
            self.papp,
            "supervisor",
            pin,
            self.papp.settings.ui.supervisor_pin_hash,
            purpose=f"{self.kind} {self.view.id}",
            wrong=_("Wrong supervisor PIN.") + " " + nothing,
        )
        if refusal is not None:
            self.busy = False
            self._say(refusal, "declined")
            return
        self._say(_("Sending to the bank…"), "busy")
        if amount is not None and amount == remaining(self.view) and self.view.refunded is None:
            amount = None  # the whole sale
        await self._run(amount)

    async def _run(self, amount: Amount | None) -> None:
        engine = self.papp.engine

        def progress(step: Progress) -> None:
            pass

        data_dir = self.papp.settings.data_dir
        try:  # the journal's refusal (nothing sent) is said as it is; the rest is an outcome
            if self.kind == "refund":
                outcome = await engine.refund(self.view.id, amount, progress)
            else:
                outcome = await engine.void(self.view.id, progress)
        except PaymentError as refusal:
            self.busy = False
            await asyncio.to_thread(
                audit_adjustment,
                data_dir,
                self.kind,
                self.view.id,
                amount,
                "screen",
                refusal=refusal.sentence,
                supervisor=True,
            )
            self._say(Text("✘ " + refusal.sentence), "declined")
            return
        self.busy = False
        await asyncio.to_thread(
            audit_adjustment,
            data_dir,
            self.kind,
            self.view.id,
            amount or outcome.amount,
            "screen",
            outcome=outcome,
            supervisor=True,
        )
        self._finished(outcome)

    def _finished(self, outcome: Outcome) -> None:
        tr = active()
        if outcome.result in (Result.APPROVED, Result.APPROVED_OFFLINE):
            self.done = True
            text = (
                _("Refund approved: {amount}.")
                if self.kind == "refund"
                else _("Void approved: {amount}.")
            ).format(amount=tr.amount(outcome.amount))
            self._say(Text("✔ " + text, style="bold"), "approved")
            if self.papp.printing.configured and outcome.id:
                printing = self.papp.printing
                try:
                    view = self.papp.engine.transaction(outcome.id)
                except Exception:
                    return
                self.run_worker(lambda: printing.print_receipt(view), thread=True, group="print")
        elif outcome.result is Result.DECLINED:
            self._say(
                Text("✘ " + _("Declined") + ": " + decline_reason(outcome.code, outcome.message)),
                "declined",
            )
        else:
            self._say(Text("✘ " + (outcome.message or _("Not completed"))), "declined")

    def action_close(self) -> None:
        if not self.busy:
            self.dismiss(self.done)
