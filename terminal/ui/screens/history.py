"""History: today's and earlier transactions, searchable; Enter opens one."""

from __future__ import annotations

import logging

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from terminal.i18n import N_, _, active
from terminal.i18n.words import result_label, type_label
from terminal.payment.api import TransactionView
from terminal.payment.cross_border import WALLETS
from terminal.ui.screens.base import PostermScreen
from terminal.ui.widgets.keys_bar import KeysBar
from terminal.ui.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)

KEYS = [("↑↓", N_("Choose")), ("Enter", N_("Details")), ("/", N_("Search")), ("Esc", N_("Back"))]


def short_entry(entry: str) -> str:
    return {"nfc": "NFC", "qr_cpm": "QR↑", "qr-scan": "QR↑", "qr_mpm": "QR↓", "qr-show": "QR↓"}.get(
        entry, entry
    )


class HistoryScreen(PostermScreen[None]):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), show=False),
        Binding("slash", "search", N_("Search"), show=False),
        Binding("f5", "reload", N_("Refresh"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, TransactionView] = {}

    def compose(self) -> ComposeResult:
        yield Static(_("History"), id="title")
        yield Input(
            placeholder=_("Search: last 4 digits, reference or transaction id"), id="search"
        )
        yield DataTable(id="rows", cursor_type="row", zebra_stripes=True)
        yield KeysBar(KEYS)
        yield StatusBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(_("Time"), _("Type"), _("Amount"), _("Method"), _("Card"), _("Result"))
        self.reload()
        table.focus()

    def reload(self, search: str = "") -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.rows.clear()
        try:
            views = self.papp.engine.history(limit=200, search=search)
        except Exception as error:
            log.warning("history not readable: %s", error)
            self.notify(
                _("History cannot be read right now: {reason}").format(
                    reason=getattr(error, "sentence", type(error).__name__)
                ),
                severity="error",
            )
            return
        tr = active()
        for view in views:
            self.rows[view.id] = view
            late = view.state == "declined_after_forward"  # approved offline, goods given
            result = view.state if late else view.result or view.state
            table.add_row(
                f"{tr.clock(view.created_at)}",
                type_label(view.type),
                tr.amount(view.amount),
                short_entry(view.entry),
                view.masked_pan[-8:] if view.masked_pan else WALLETS.get(view.scheme, ""),
                result_label(result),
                key=view.id,
            )
        if not views:
            self.query_one(DataTable).add_row("", "", _("No transactions found."), "", "", "")

    @on(Input.Submitted, "#search")
    def searched(self, event: Input.Submitted) -> None:
        self.reload(event.value.strip())
        self.query_one(DataTable).focus()

    @on(Input.Changed, "#search")
    def typed(self, event: Input.Changed) -> None:
        self.reload(event.value.strip())

    @on(DataTable.RowSelected)
    def chosen(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key in self.rows:
            from terminal.ui.screens.transaction import TransactionScreen

            self.app.push_screen(TransactionScreen(self.rows[key]), lambda _r: self.action_reload())

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_reload(self) -> None:
        self.reload(self.query_one("#search", Input).value.strip())

    def action_back(self) -> None:
        if self.query_one("#search", Input).has_focus:
            self.query_one(DataTable).focus()
            return
        self.dismiss()
