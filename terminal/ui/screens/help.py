"""Every key of every screen, in the operator's language."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from terminal.i18n import N_, _

SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        N_("Sale"),
        [
            ("0-9", N_("Type the amount (cents fill in from the right)")),
            ("⌫ / Del", N_("Correct the last digit / clear the amount")),
            ("Enter / T", N_("Customer taps a card or phone")),
            ("S", N_("Scan the customer's QR code")),
            ("Q", N_("Show the shop's QR code for the customer to scan")),
            ("Esc", N_("Cancel the payment (until the bank is asked)")),
            ("P / R", N_("Reprint / show the receipt of the last payment")),
        ],
    ),
    (
        N_("Everywhere"),
        [
            ("H", N_("History: search, details, refund, void, reprint")),
            ("E", N_("End of day: totals, chart, close batch")),
            ("O", N_("Open tabs: capture with a tip, or release a hold")),
            ("F12", N_("Technician: settings and device check (technician PIN)")),
            ("F1 / ?", N_("This help")),
            ("Ctrl+Q", N_("Quit")),
        ],
    ),
    (
        N_("History"),
        [
            ("/", N_("Search by the card's last 4 digits, the reference or the transaction id")),
            ("Enter", N_("Details of the chosen transaction")),
            ("R / V", N_("Refund / void (supervisor PIN)")),
        ],
    ),
    (
        N_("End of day"),
        [
            ("B then Y", N_("Close the batch with the bank")),
        ],
    ),
]


def help_text(demo: list[tuple[str, str]] | None = None) -> str:
    lines = []
    sections = list(SECTIONS)
    for title, keys in sections:
        lines.append(_(title))
        lines.extend(f"  {key:<10} {_(text)}" for key, text in keys)
        lines.append("")
    if demo:
        lines.append(_("Demo"))
        lines.extend(f"  {key:<10} {text}" for key, text in demo)
    return "\n".join(lines).rstrip()


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,question_mark,q", "back", N_("Back"), show=False)]

    def compose(self) -> ComposeResult:
        demo = [(a.key, a.description) for a in getattr(self.app, "demo_actions", ())]
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(_("Keys"), classes="heading")
            with VerticalScroll():
                yield Static(help_text(demo), markup=False)

    def action_back(self) -> None:
        self.dismiss()
