"""Open tabs: pre-authorisations still held (hotel rooms, car hire, bar tabs).

C captures the chosen hold: the final amount (the amount held unless typed otherwise) plus a
tip, then one charge. X releases it (Y to confirm). The engine checks each request before
anything is sent; a refusal is shown as its sentence and nothing changes.
"""

from __future__ import annotations

import asyncio
import logging

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from terminal.i18n import N_, _, active
from terminal.money import Amount, AmountError
from terminal.payment.api import Outcome, Progress, Result, TransactionView
from terminal.payment.authority import audit_adjustment
from terminal.ui.messages import ReceiptPrinted
from terminal.ui.screens.base import PostermModalScreen, PostermScreen
from terminal.ui.widgets.keys_bar import KeysBar
from terminal.ui.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)

KEYS = [
    ("↑↓", N_("Choose")),
    ("C", N_("Capture")),
    ("X", N_("Release")),
    ("Esc", N_("Back")),
]


def held_of(view: TransactionView) -> Amount:
    return view.held if view.held is not None else view.amount


class OpenTabsScreen(PostermScreen[None]):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), show=False),
        Binding("c", "capture", N_("Capture"), show=False),
        Binding("x", "release", N_("Release"), show=False),
        Binding("f5", "reload", N_("Refresh"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, TransactionView] = {}
        self.confirm_release = ""

    def compose(self) -> ComposeResult:
        yield Static(_("Open tabs"), id="title")
        yield DataTable(id="tabs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="tab-status")
        yield KeysBar(KEYS)
        yield StatusBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(_("Time"), _("Held"), _("Card"), _("Reference"), _("Expires"))
        self.reload()
        table.focus()

    def reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.rows.clear()
        open_holds = getattr(self.papp.engine, "open_holds", None)
        views = open_holds() if open_holds is not None else []
        tr = active()
        for view in views:
            self.rows[view.id] = view
            table.add_row(
                tr.clock(view.created_at),
                tr.amount(held_of(view)),
                view.masked_pan[-8:] if view.masked_pan else "",
                view.reference,
                view.expires_at[:10],
                key=view.id,
            )
        if not views:
            table.add_row("", _("No open tabs."), "", "", "")

    def chosen(self) -> TransactionView | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(str(key))

    def say(self, text: str) -> None:
        self.query_one("#tab-status", Static).update(text)

    def action_capture(self) -> None:
        view = self.chosen()
        if view is not None:
            self.app.push_screen(CaptureScreen(view), self._captured)

    def _captured(self, capture_id: str | None) -> None:
        """Print the capture's slip (final amount and tip) when a printer is configured."""
        self.reload()
        printing = self.papp.printing
        if not capture_id or not printing.configured:
            return
        view = self.papp.engine.transaction(capture_id)

        def job() -> None:
            report = printing.print_receipt(view)
            self.papp.deliver(ReceiptPrinted(report), self)

        self.run_worker(job, thread=True, group="print")

    @on(ReceiptPrinted)
    def receipt_printed(self, message: ReceiptPrinted) -> None:
        self.papp.devices["printer"] = message.report.state
        if not message.report.printed:
            self.notify(message.report.sentence, severity="error", timeout=10)

    def action_release(self) -> None:
        view = self.chosen()
        if view is None:
            return
        self.confirm_release = view.id
        self.say(
            _("Release the hold of {amount}? Y to release, any other key to keep it.").format(
                amount=active().amount(held_of(view))
            )
        )

    def on_key(self, event: object) -> None:
        from textual.events import Key

        if not isinstance(event, Key) or not self.confirm_release:
            return
        hold_id, self.confirm_release = self.confirm_release, ""
        if event.key == "y":
            event.stop()
            self.run_worker(self._release(hold_id), exclusive=True)
        elif event.key != "x":
            self.say("")

    async def _release(self, hold_id: str) -> None:
        self.say(_("Releasing the hold…"))
        outcome = await run_on_hold(self, "preauth_cancel", hold_id)
        if outcome is not None:
            self.say(outcome.message)
        self.reload()

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.dismiss()


async def run_on_hold(
    screen: PostermScreen[None] | PostermModalScreen[str | None],
    kind: str,
    hold_id: str,
    amount: Amount | None = None,
    tip: Amount | None = None,
) -> Outcome | None:
    """Check then run an increment, capture or cancel; a refusal is notified (None)."""
    engine = screen.papp.engine
    check = getattr(engine, "check_hold", None)
    act = getattr(engine, "act_on_hold", None)
    if check is None or act is None:
        screen.notify(_("This terminal cannot take pre-authorisations."), severity="error")
        return None
    data_dir = screen.papp.settings.data_dir
    try:
        action = await check(kind, hold_id, amount, tip)
    except Exception as error:  # the engine's refusal: its sentence, nothing sent
        sentence = getattr(error, "sentence", str(error))
        await asyncio.to_thread(
            audit_adjustment, data_dir, kind, hold_id, amount, "screen", refusal=sentence
        )
        screen.notify(sentence, severity="error")
        return None

    def progress(step: Progress) -> None:
        return None

    outcome: Outcome = await act(action, progress)
    await asyncio.to_thread(
        audit_adjustment, data_dir, kind, hold_id, outcome.amount, "screen", outcome=outcome
    )
    return outcome


class CaptureScreen(PostermModalScreen[str | None]):
    """The final amount (default: what is held) and a tip, then one charge; dismisses with
    the capture's id when the bank approved it (or it is stored to send), else None."""

    BINDINGS = [Binding("escape", "back", N_("Back"), show=False)]

    def __init__(self, view: TransactionView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        held = held_of(self.view)
        with Vertical(id="capture-dialog", classes="dialog"):
            yield Static(
                _("Capture the tab of {amount}").format(amount=active().amount(held)),
                markup=False,
            )
            yield Input(value=held.format_plain(), placeholder=_("Final amount"), id="final")
            yield Input(placeholder=_("Tip amount, then Enter"), id="tip")
            yield Static("", id="capture-result")

    def on_mount(self) -> None:
        self.query_one("#tip", Input).focus()

    @on(Input.Submitted, "#final")
    def final_typed(self) -> None:
        self.query_one("#tip", Input).focus()

    @on(Input.Submitted, "#tip")
    def tip_typed(self) -> None:
        currency = self.view.amount.currency
        try:
            final = Amount.parse(self.query_one("#final", Input).value or "0", currency)
            text = self.query_one("#tip", Input).value.strip()
            tip = Amount.parse(text, currency, allow_negative=True) if text else None
        except AmountError as error:
            self.query_one("#capture-result", Static).update(error.sentence)
            return
        self.query_one("#capture-result", Static).update(_("Capturing…"))
        self.run_worker(self._capture(final, tip), exclusive=True)

    async def _capture(self, final: Amount, tip: Amount | None) -> None:
        outcome = await run_on_hold(self, "capture", self.view.id, final, tip)
        if outcome is None:
            self.query_one("#capture-result", Static).update("")
            return
        self.query_one("#capture-result", Static).update(outcome.message)
        self.notify(outcome.message)
        taken = outcome.result in (Result.APPROVED, Result.APPROVED_OFFLINE)
        self.dismiss(outcome.id if taken and outcome.id else None)

    def action_back(self) -> None:
        self.dismiss(None)
