"""The sale screen: type the amount, choose how the customer pays, follow it to the answer."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Static

from terminal.i18n import N_, _, active
from terminal.i18n.words import entry_label
from terminal.money import Amount
from terminal.payment.api import (
    CancelToken,
    CounterEngine,
    EntryMethod,
    Outcome,
    Progress,
    Result,
    SaleRequest,
    Stage,
    TransactionView,
)
from terminal.payment.errors import PaymentError
from terminal.payment.qr_link import method_refusal
from terminal.ui.keypad import AmountEntry
from terminal.ui.messages import (
    CodeCleared,
    CodeShown,
    EcrSaleStarted,
    ReceiptPrinted,
    SaleEnded,
    SaleProgress,
)
from terminal.ui.outcome_text import receipt_view, result_panel
from terminal.ui.screens.base import PostermScreen
from terminal.ui.widgets.keys_bar import KeysBar
from terminal.ui.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)

STAGE_TEXT = {
    Stage.CHECKING: N_("Checking…"),
    Stage.WAITING_FOR_CARD: N_("Present card or phone…"),
    Stage.READING_CARD: N_("Reading card… keep it still"),
    Stage.CARD_READ: N_("Card read"),
    Stage.SCANNING: N_("Hold the customer's code up to the camera…"),
    Stage.CODE_SCANNED: N_("Code read"),
    Stage.SHOWING_CODE: N_("Customer scans the code with their wallet app…"),
    Stage.CONFIRMING: N_("Waiting for the customer to confirm on their phone…"),
    Stage.CANCELLING: N_("Cancelling the wallet payment with the bank…"),
    Stage.AUTHORISING: N_("Authorising…"),
    Stage.RETRYING: N_("No answer yet: asking the bank again…"),
    Stage.REVERSING: N_("No answer from the bank: cancelling the payment with the bank…"),
}

# Once the request may have reached the bank, only the engine's own deadline ends the wait.
UNSAFE_TO_CANCEL = {
    Stage.AUTHORISING,
    Stage.RETRYING,
    Stage.REVERSING,
    Stage.CANCELLING,
    Stage.RESULT,
}

ENTRY_KEYS = [  # S and Q are listed beside the amount, with the other ways to pay
    ("Enter", N_("Tap")),
    ("⌫", N_("Correct")),
    ("H", N_("History")),
    ("E", N_("End of day")),
    ("F1", N_("Help")),
]
RUNNING_KEYS = [("Esc", N_("Cancel"))]
SPLIT_KEYS = [  # a partial approval left something to pay: the next tender, or void it all
    ("Enter", N_("Tap")),
    ("S", N_("Scan code")),
    ("Q", N_("Show code")),
    ("K", N_("Cash")),
    ("Esc", N_("Void all")),
]
RESULT_KEYS = [
    ("Enter", N_("New sale")),
    ("P", N_("Reprint")),
    ("R", N_("Receipt")),
    ("H", N_("History")),
    ("E", N_("End of day")),
    ("F1", N_("Help")),
]


class SaleScreen(PostermScreen[None]):
    """Amount entry, method choice and the live status panel."""

    BINDINGS = [
        Binding("enter,t", "pay('nfc')", N_("Tap"), show=False),
        Binding("s", "pay('qr-scan')", N_("Scan code"), show=False),
        Binding("q", "pay('qr-show')", N_("Show code"), show=False),
        Binding("backspace", "correct", N_("Correct"), show=False),
        Binding("delete,c", "clear", N_("Clear"), show=False),
        Binding("escape", "cancel", N_("Cancel"), show=False),
        Binding("h", "history", N_("History"), show=False),
        Binding("e", "end_of_day", N_("End of day"), show=False),
        Binding("o", "open_tabs", N_("Open tabs"), show=False),
        Binding("p", "reprint", N_("Reprint"), show=False),
        Binding("r", "receipt", N_("Receipt"), show=False),
        Binding("f12", "technician", N_("Technician"), show=False),
        Binding("k", "cash", N_("Cash"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.phase = "entry"
        """entry, running or result."""
        self.stage: Stage | None = None
        self.cancel_event: asyncio.Event | None = None
        self.outcome: Outcome | None = None
        self.source = "screen"
        self._entry: AmountEntry | None = None
        self._amount_shown: Amount | None = None
        self._qr_screen: object | None = None
        self.split: tuple[str, Amount] | None = None
        """A split sale with something left to pay: (its first payment's id, what is left)."""

    @property
    def entry(self) -> AmountEntry:
        if self._entry is None:
            self._entry = AmountEntry(self.papp.settings.currency)
        return self._entry

    def compose(self) -> ComposeResult:
        settings = self.papp.settings
        yield Static(f"{settings.terminal.merchant_name} · {_('Sale')}", id="title", markup=False)
        with Horizontal(id="sale-body"):
            with Vertical(id="entry"):
                yield Static(_("Amount") + f" ({settings.currency.code})", id="amount-label")
                yield Digits(self._digits_text(), id="amount")
                yield Static("", id="tip-line")
                yield Static(self._methods_text(), id="methods")
            with Vertical(id="panel"):
                yield Static(_("Type the amount, then choose how the customer pays."), id="stage")
                yield Static("", id="detail")
        yield KeysBar(self._keys(), id="keys")
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        self.papp.sale_screen = self
        self.papp.customer_display.idle()

    # -- text helpers ---------------------------------------------------------------------
    def _digits_text(self) -> str:
        amount = self._amount_shown or self.entry.amount
        text = active().amount(amount)
        return text.split(" ", 1)[1]

    def _methods_text(self) -> Text:
        text = Text()
        for key, method in (("Enter", "nfc"), ("S", "qr-scan"), ("Q", "qr-show")):
            text.append(f" {key:<5} ", style="reverse")
            text.append(f" {entry_label(method)}\n")
        for action in self.papp.demo_actions:
            description = action.description
            if len(description) > 29:
                description = description[:28] + "…"
            text.append(f" {action.key.upper():<5} ", style="reverse")
            text.append(f" {description}\n", style="italic")
        return text

    def _keys(self) -> list[tuple[str, str]]:
        if self.phase == "running":
            return RUNNING_KEYS
        if self.phase == "result":
            return SPLIT_KEYS if self.split else RESULT_KEYS
        return ENTRY_KEYS

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        self.query_one(KeysBar).set_keys(self._keys())

    def _show_amount(self) -> None:
        self.query_one("#amount", Digits).update(self._digits_text())

    def _panel(self, headline: str | Text, detail: str | Text = "", style: str = "") -> None:
        stage = self.query_one("#stage", Static)
        stage.update(headline)
        stage.set_classes(style)
        self.query_one("#detail", Static).update(detail)

    # -- keys -----------------------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        for action in self.papp.demo_actions:
            if event.key == action.key:
                event.stop()
                self.papp.run_demo_action(action)
                return
        if event.character and event.character.isdigit() and event.character.isascii():
            event.stop()
            if self.phase == "running" or self.split:  # a split sale is paid or voided first
                return
            if self.phase == "result":
                self._new_sale()
            self.entry.press(event.character)
            self._show_amount()

    def action_correct(self) -> None:
        if self.phase == "entry":
            self.entry.backspace()
            self._show_amount()

    def action_clear(self) -> None:
        if self.phase == "entry":
            self.entry.clear()
            self._show_amount()

    def action_pay(self, method: str) -> None:
        if self.phase == "result" and self.split:  # the next tender pays what is left
            first, left = self.split
            self.start_sale(EntryMethod(method), left, None, split_of=first)
            return
        if self.phase == "result":
            if method == "nfc":  # Enter after a result starts the next sale
                self._new_sale()
            return
        if self.phase != "entry":
            return
        amount = self.entry.amount
        if amount.is_zero:
            self._panel(_("Type the amount first."), style="warning")
            return
        refused = method_refusal(self.papp.settings, EntryMethod(method))
        if refused:  # no link carries this method (QR on the ISO 8583 link): nothing starts
            self._panel(Text(refused), style="warning")
            return
        presets = self.papp.settings.ui.tip_presets
        if presets:
            from terminal.ui.screens.tip import TipScreen

            def chosen(tip: Amount | None) -> None:
                if tip is not None:
                    self.start_sale(EntryMethod(method), amount + tip, tip)

            self.app.push_screen(TipScreen(amount, presets), chosen)
            return
        self.start_sale(EntryMethod(method), amount, None)

    def action_cancel(self) -> None:
        if self.phase == "result" and self.split:
            self.run_worker(self._void_split(self.split[0]), group="sale", exclusive=True)
            return
        if self.phase != "running" or self.cancel_event is None:
            if self.phase == "entry":
                self.action_clear()
            return
        if self.source == "ecr" and self.papp.ecr is not None and self.papp.ecr_payment:
            from terminal.ecr.errors import EcrError

            try:
                self.papp.ecr.payments.cancel(self.papp.ecr_payment)
            except EcrError as error:
                self.notify(error.sentence, severity="warning")
                return
            self._panel(_("Cancelling…"))
            return
        if isinstance(self.cancel_event, CancelToken):
            answer = self.cancel_event.request()
            if not answer.accepted:
                self.notify(
                    _(
                        "The payment is authorising with the bank and cannot be cancelled; "
                        "it will end approved or declined."
                    ),
                    severity="warning",
                )
                return
        elif self.stage in UNSAFE_TO_CANCEL:
            self.notify(
                _(
                    "The bank is deciding: cancelling now could charge the customer without a "
                    "record. Wait for the answer."
                ),
                severity="warning",
            )
            return
        else:
            self.cancel_event.set()
        self._panel(_("Cancelling…"))

    def action_history(self) -> None:
        if self.phase != "running":
            from terminal.ui.screens.history import HistoryScreen

            self.app.push_screen(HistoryScreen())

    def action_end_of_day(self) -> None:
        if self.phase != "running":
            from terminal.ui.screens.end_of_day import EndOfDayScreen

            self.app.push_screen(EndOfDayScreen())

    def action_open_tabs(self) -> None:
        if self.phase != "running":
            from terminal.ui.screens.open_tabs import OpenTabsScreen

            self.app.push_screen(OpenTabsScreen())

    def action_technician(self) -> None:
        if self.phase != "running":
            from terminal.ui.screens.technician import TechnicianScreen

            self.app.push_screen(TechnicianScreen())

    def action_reprint(self) -> None:
        if self.phase == "result" and self.outcome is not None and self.outcome.id:
            self.print_receipt(self.outcome)

    def action_receipt(self) -> None:
        if self.phase == "result" and self.outcome is not None and self.outcome.id:
            from terminal.ui.screens.receipt import ReceiptScreen

            self.app.push_screen(ReceiptScreen(self.view_of(self.outcome)))

    def _new_sale(self) -> None:
        self.entry.clear()
        self.outcome = None
        self._amount_shown = None
        self.query_one("#tip-line", Static).update("")
        self._show_amount()
        self._panel(_("Type the amount, then choose how the customer pays."))
        self._set_phase("entry")
        self.papp.customer_display.idle()

    # -- running a sale -------------------------------------------------------------------
    # -- split tender (terminal/payment/tenders.py) -----------------------------------------
    @property
    def _split_tender(self) -> bool:
        """Partial approval is on by default at the counter when the engine takes the rest."""
        return hasattr(self.papp.engine, "cash_tender")

    def _after_tender(self, outcome: Outcome) -> None:
        """Remember what a partial approval left to pay, or that the split sale is paid."""
        left = outcome.remaining_amount
        if outcome.result not in (Result.APPROVED, Result.APPROVED_OFFLINE) or left is None:
            return
        if left.is_zero:
            self.split = None
            return
        self.split = (self.split[0] if self.split else outcome.id, left)
        detail = self.query_one("#detail", Static)
        note = _(
            "{amount} is left to pay: tap another card, S or Q for a code, K for cash, "
            "Esc voids the whole sale."
        ).format(amount=active().amount(left))
        detail.update(Text(str(detail.render()) + "\n" + note, style="bold"))

    def action_cash(self) -> None:
        if self.phase == "result" and self.split:
            self.run_worker(self._cash(self.split[0]), group="sale", exclusive=True)

    async def _cash(self, first: str) -> None:
        engine = cast(CounterEngine, self.papp.engine)
        try:
            outcome = await engine.cash_tender(first, None)
        except PaymentError as refusal:
            self._panel(Text("✘ " + refusal.sentence), style="declined")
            return
        self.split = None
        self._set_phase("result")
        self._panel(Text("✔ " + outcome.message, style="bold"), style="approved")

    async def _void_split(self, first: str) -> None:
        engine = cast(CounterEngine, self.papp.engine)
        try:
            outcomes = await engine.void_tenders(first, lambda step: None)
        except PaymentError as refusal:
            self._panel(Text("✘ " + refusal.sentence), style="declined")
            return
        if all(o.result is Result.APPROVED for o in outcomes):
            self.split = None
            self._set_phase("result")
            self._panel(
                Text("✔ " + _("The whole sale was voided: nothing is charged."), style="bold"),
                style="approved",
            )
        else:
            failed = next(o for o in outcomes if o.result is not Result.APPROVED)
            self._panel(Text("✘ " + failed.message), style="declined")

    def start_sale(
        self, method: EntryMethod, amount: Amount, tip: Amount | None, *, split_of: str = ""
    ) -> None:
        request = SaleRequest(
            amount=amount,
            method=method,
            tip=tip,
            allow_partial=self._split_tender,
            split_of=split_of,
        )
        self.cancel_event = CancelToken()
        self.source = "screen"
        self.follow(amount, tip)
        hint = {
            "nfc": "Please tap your card",
            "qr-scan": "Show your code",
            "qr-show": "Scan the code",
        }[method.value]
        self.papp.customer_display.amount(amount, hint)
        self.run_worker(self._run(request, self.cancel_event), group="sale", exclusive=True)

    def follow(
        self, amount: Amount, tip: Amount | None, source: str = "screen", reference: str = ""
    ) -> None:
        """Show a sale in progress (ours, or one a till started through the ECR API)."""
        self.source = source
        self.stage = None
        self._amount_shown = amount
        self._show_amount()
        tip_line = ""
        if tip is not None and not tip.is_zero:
            tip_line = _("including tip {tip}").format(tip=active().amount(tip))
        if source == "ecr":
            tip_line = (tip_line + "  " if tip_line else "") + _("(from the till)")
            if reference:
                tip_line += f" {reference}"
        self.query_one("#tip-line", Static).update(tip_line)
        self._panel(_("Starting…"))
        self._set_phase("running")
        self.papp.sale_running = True

    async def _run(self, request: SaleRequest, cancel: asyncio.Event) -> None:
        engine = self.papp.engine

        def progress(step: Progress) -> None:
            self.papp.deliver(SaleProgress(step), self)

        outcome = await engine.sale(request, progress, cancel)
        self.papp.deliver(SaleEnded(outcome), self)

    @on(EcrSaleStarted)
    def till_started(self, message: EcrSaleStarted) -> None:
        payment = self.papp.ecr_payment
        if payment is None or payment.id != message.payment_id:
            return
        self.outcome = None
        self.cancel_event = payment.cancel
        self.follow(payment.request.amount, None, source="ecr", reference=payment.request.reference)
        self.papp.customer_display.amount(payment.request.amount)

    @on(SaleProgress)
    def show_progress(self, message: SaleProgress) -> None:
        step = message.progress
        self.stage = step.stage
        if self.phase != "running":
            return
        headline = _(STAGE_TEXT[step.stage]) if step.stage in STAGE_TEXT else step.message
        detail = step.message if active().language == "en" and step.message != headline else ""
        self._panel(headline, detail, style="busy")
        if step.stage is Stage.READING_CARD and self.papp.devices["reader"] == "error":
            self.papp.devices["reader"] = "ready"  # a card is being read: the reader works
        if step.stage is Stage.SHOWING_CODE and "payload" in step.data:
            self.show_code(str(step.data["payload"]), str(step.data.get("expires_at", "")))

    @on(CodeShown)
    def code_shown(self, message: CodeShown) -> None:
        self.show_code(message.payload, message.expires_at)

    @on(CodeCleared)
    def code_cleared(self) -> None:
        self.close_code()

    def show_code(self, payload: str, expires_at: str) -> None:
        from terminal.ui.screens.qr import QrScreen

        if isinstance(self._qr_screen, QrScreen) and self._qr_screen.payload == payload:
            return
        self.close_code()
        amount = self._amount_shown or self.entry.amount
        screen = QrScreen(payload, amount, expires_at, self)
        self._qr_screen = screen
        self.app.push_screen(screen)

    def close_code(self) -> None:
        from terminal.ui.screens.qr import QrScreen

        screen = self._qr_screen
        self._qr_screen = None
        if isinstance(screen, QrScreen) and screen.is_attached:
            screen.dismiss()

    @on(SaleEnded)
    def sale_ended(self, message: SaleEnded) -> None:
        outcome = message.outcome
        self.close_code()
        self.outcome = outcome
        self.papp.sale_running = False
        self.cancel_event = None
        self._show_result(outcome)
        if self.source == "screen":
            self._after_tender(outcome)
        self._set_phase("result")
        self.papp.customer_display.result(outcome.result.value, outcome.amount)
        if outcome.id and outcome.result in (
            Result.APPROVED,
            Result.APPROVED_OFFLINE,
            Result.DECLINED,
        ):
            self.print_receipt(outcome)

    def _show_result(self, outcome: Outcome) -> None:
        headline, detail, style = result_panel(outcome)
        reader_fault = "reader" in outcome.message.lower()
        if outcome.result is Result.ERROR and outcome.entry == "nfc" and reader_fault:
            if self.papp.devices["reader"] != "none":
                self.papp.devices["reader"] = "error"
        self._panel(headline, detail, style=style)

    # -- receipts -------------------------------------------------------------------------
    def view_of(self, outcome: Outcome) -> TransactionView:
        return receipt_view(self.papp.engine, outcome)

    def print_receipt(self, outcome: Outcome) -> None:
        printing = self.papp.printing
        if not printing.configured:
            return
        view = self.view_of(outcome)

        def job() -> None:
            report = printing.print_receipt(view)
            self.papp.deliver(ReceiptPrinted(report), self)

        self.run_worker(job, thread=True, group="print")

    @on(ReceiptPrinted)
    def receipt_printed(self, message: ReceiptPrinted) -> None:
        report = message.report
        self.papp.devices["printer"] = report.state
        if not report.printed:
            self.notify(report.sentence, severity="error", timeout=10)
