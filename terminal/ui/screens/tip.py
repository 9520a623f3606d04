"""Tip before the tap: the site's percentage presets, no tip, or an amount typed in."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from terminal.i18n import N_, _, active
from terminal.money import Amount, AmountError


def tip_for(amount: Amount, percent: int) -> Amount:
    """`percent` of `amount`, rounded half up to the currency's minor unit."""
    return Amount((amount.minor * percent + 50) // 100, amount.currency)


class TipScreen(ModalScreen[Amount | None]):
    """Dismisses with the tip (zero for none) or None when the operator backs out."""

    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("escape", "back", N_("Back"), show=False),
        Binding("a", "type_amount", N_("Type a tip amount"), show=False),
    ]

    def __init__(self, amount: Amount, presets: list[int]) -> None:
        super().__init__()
        self.amount = amount
        self.presets = presets[:9]

    def compose(self) -> ComposeResult:
        tr = active()
        lines = [_("Tip for {amount}?").format(amount=tr.amount(self.amount)), ""]
        for index, percent in enumerate(self.presets, start=1):
            tip = tip_for(self.amount, percent)
            lines.append(f" {index}  {percent}%  {tr.amount(tip)}")
        lines.append(" 0  " + _("No tip"))
        lines.append(" A  " + _("Type a tip amount"))
        with Vertical(id="tip-dialog", classes="dialog"):
            yield Static("\n".join(lines), markup=False)
            yield Input(placeholder=_("Tip amount, then Enter"), id="tip-amount")
            yield Static("", id="tip-error")

    def on_key(self, event: object) -> None:
        from textual.events import Key

        if not isinstance(event, Key) or self.query_one(Input).has_focus:
            return
        if event.character and event.character.isdigit():
            choice = int(event.character)
            if choice == 0:
                event.stop()
                self.dismiss(Amount.zero(self.amount.currency))
            elif choice <= len(self.presets):
                event.stop()
                self.dismiss(tip_for(self.amount, self.presets[choice - 1]))

    @on(Input.Submitted)
    def typed(self, event: Input.Submitted) -> None:
        try:
            tip = Amount.parse(event.value, self.amount.currency)
        except AmountError as error:
            self.query_one("#tip-error", Static).update(error.sentence)
            return
        self.dismiss(tip)

    def action_type_amount(self) -> None:
        self.query_one(Input).focus()

    def action_back(self) -> None:
        self.dismiss(None)
