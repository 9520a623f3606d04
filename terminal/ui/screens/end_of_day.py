"""End of day: totals by method and result, today's sales by hour, and the batch close."""

from __future__ import annotations

import logging

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from terminal.i18n import N_, _, active
from terminal.i18n.words import entry_label, result_label, type_label
from terminal.payment.api import BatchResult, Totals
from terminal.ui.screens.base import PostermScreen
from terminal.ui.widgets.keys_bar import KeysBar
from terminal.ui.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)

KEYS = [("B", N_("Close batch")), ("F5", N_("Refresh")), ("Esc", N_("Back"))]


def hourly(totals: Totals) -> tuple[list[int], list[float]]:
    """Hours 0-23 and the approved sales of each in major units (for the chart only)."""
    hours = list(range(24))
    exponent = totals.by_hour[next(iter(totals.by_hour))].currency.exponent if totals.by_hour else 2
    values = [totals.by_hour[h].minor / 10**exponent if h in totals.by_hour else 0.0 for h in hours]
    return hours, values


def batch_text(result: BatchResult) -> Text:
    if result.result == "balanced":
        return Text("✔ " + _("Batch closed: balanced with the bank."), style="bold")
    text = Text(
        "✘ " + _("Batch closed OUT OF BALANCE: the bank's totals differ."), style="bold reverse"
    )
    if result.message:
        text.append("\n" + result.message)
    return text


class EndOfDayScreen(PostermScreen[None]):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), show=False),
        Binding("b", "close_batch", N_("Close batch"), show=False),
        Binding("y", "confirm", N_("Yes"), show=False),
        Binding("f5", "reload", N_("Refresh"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.confirming = False
        self.closing = False
        self.batch_result: BatchResult | None = None

    def compose(self) -> ComposeResult:
        yield Static(_("End of day"), id="title")
        with Vertical(id="eod-body"):
            yield DataTable(id="totals", cursor_type="none", show_cursor=False)
            yield PlotextPlot(id="chart")
        yield Static("", id="batch")
        yield KeysBar(KEYS)
        yield StatusBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(_("Type"), _("Method"), _("Result"), _("Count"), _("Total"))
        self.reload()

    def reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        try:
            totals = self.papp.engine.totals()
        except Exception as error:
            log.warning("totals not readable: %s", error)
            self.query_one("#batch", Static).update(
                _("Totals cannot be read right now: {reason}").format(
                    reason=getattr(error, "sentence", type(error).__name__)
                )
            )
            return
        tr = active()
        for line in totals.lines:
            table.add_row(
                type_label(line.type),
                entry_label(line.entry),
                result_label(line.result),
                str(line.count),
                tr.amount(line.total),
            )
        if not totals.lines:
            table.add_row("", "", _("No transactions since the last close."), "", "")
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        hours, values = hourly(totals)
        shown = [(h, v) for h, v in zip(hours, values, strict=True) if v]
        if shown:
            plt.bar([h for h, _v in shown], [v for _h, v in shown])
        plt.xlim(-1, 24)
        plt.title(_("Approved sales by hour") + f" ({self.papp.settings.currency.code})")
        plt.xticks([0, 6, 12, 18, 23])
        plot.refresh()

    def action_reload(self) -> None:
        self.reload()

    def action_close_batch(self) -> None:
        if self.closing:
            return
        if self.papp.sale_running:
            self.query_one("#batch", Static).update(
                _("A payment is running: close the batch when it has ended.")
            )
            return
        self.confirming = True
        self.query_one("#batch", Static).update(
            _("Close the batch and send today's totals to the bank? Y: yes, Esc: no")
        )

    def action_confirm(self) -> None:
        if not self.confirming:
            return
        self.confirming = False
        self.closing = True
        self.query_one("#batch", Static).update(_("Closing the batch with the bank…"))
        self.run_worker(self._close(), exclusive=True)

    async def _close(self) -> None:
        batch = self.query_one("#batch", Static)
        try:
            result = await self.papp.engine.close_batch()
        except Exception:  # the engine ends every runtime failure as result "error"
            log.exception("batch close failed inside the terminal")
            batch.update(_("The batch could not be closed (details are in the log); try again."))
        else:
            if result.result == "error":  # the batch stays open
                batch.update(Text("✘ " + result.message, style="bold"))
                return
            self.batch_result = result
            batch.update(batch_text(result))
            self.reload()
        finally:
            self.closing = False

    def action_back(self) -> None:
        if self.confirming:
            self.confirming = False
            self.query_one("#batch", Static).update("")
            return
        if not self.closing:
            self.dismiss()
