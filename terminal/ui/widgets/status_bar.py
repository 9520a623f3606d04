"""The bottom line of every screen: gateway link (online, OFFLINE, or UNTRUSTED while the bank's
certificate fails verification), store-and-forward queue, devices, terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from terminal.i18n import _, active
from terminal.ui.running_app import running_app

if TYPE_CHECKING:
    from terminal.ui.app import StatusSnapshot


def age(oldest: datetime | None, now: datetime) -> str:
    """ "3m", "2h", "1d": how long the oldest queued payment has waited."""
    if oldest is None:
        return ""
    seconds = max(0, int((now - oldest).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def status_text(snapshot: StatusSnapshot, now: datetime, width: int = 80) -> Text:
    """The bar as text within `width` cells; states are words (and reverse video for trouble),
    never colour alone. When everything does not fit, the terminal id goes first, then the
    devices that are fine, then the queue's age, so trouble always stays readable."""
    for compact in range(_MOST_COMPACT + 1):
        text = _bar(snapshot, now, compact)
        if text.cell_len <= width:
            break
    return text


_MOST_COMPACT = 3


def _bar(snapshot: StatusSnapshot, now: datetime, compact: int) -> Text:
    text = Text()
    if snapshot.link_alarm:  # before online/offline: a man in the middle is not an outage
        text.append(" " + _("Bank: UNTRUSTED - security alarm") + " ", style="bold reverse")
    elif snapshot.gateway_online:
        text.append(" " + _("Bank: online") + " ", style="bold")
    else:
        text.append(" " + _("Bank: OFFLINE") + " ", style="bold reverse")
    text.append("│")
    queue = snapshot.queue
    if queue is not None and queue.count:
        shown = _("Queue: {count} · {total}").format(
            count=queue.count, total=active().amount(queue.total)
        )
        if compact < 3:
            shown = _("Queue: {count} · {total} · oldest {age}").format(
                count=queue.count, total=active().amount(queue.total), age=age(queue.oldest, now)
            )
        text.append(" " + shown + " ", style="bold reverse" if queue.last_error else "bold")
    elif queue is not None:
        text.append(" " + _("Queue: empty") + " ")
    text.append("│")
    labels = {"reader": _("NFC"), "camera": _("Cam"), "printer": _("Printer")}
    states = {
        "ready": _("ok"),
        "ok": _("ok"),
        "none": "-",
        "paper out": _("NO PAPER"),
        "offline": _("OFFLINE"),
        "error": _("ERROR"),
    }
    for device, state in snapshot.devices.items():
        trouble = state in ("paper out", "offline", "error")
        if compact >= 2 and not trouble:
            continue
        text.append(" ")
        text.append(
            f"{labels.get(device, device)} {states.get(state, state)}",
            style="bold reverse" if trouble else "",
        )
    if compact < 1:
        text.append(" │ ")
        text.append(snapshot.terminal_id, style="dim")
    if snapshot.note:
        text.append(f" │ {snapshot.note}", style="bold")
    return text


class StatusBar(Static):
    """Refreshes itself every second from the app's `status()`."""

    DEFAULT_CSS = """
    StatusBar { height: 1; width: 100%; }
    """

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(1.0, self.refresh_status)

    def refresh_status(self) -> None:
        status = running_app(self).status()
        self.update(status_text(status, datetime.now(UTC), self.size.width or 80))
