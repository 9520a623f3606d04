"""The technician's fleet screen (`posterm fleet screen`): every terminal's status as the broker
has it, one row each, updated as statuses arrive; read-only.

It runs on the technician's machine with the operator's account (a terminal's own account may
read only its own topics). A worker thread holds the subscription (terminal/fleet/listing.py)
and hands each status to the screen; nothing here writes to the broker.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from terminal.fleet.rows import HEADER, status_row
from terminal.fleet.topics import all_status
from terminal.settings.fleet_section import FleetSection

log = logging.getLogger(__name__)

COLUMNS = tuple(name.lower().replace(" ", "_") for name in HEADER)


class FleetView(App[None]):
    """One DataTable of terminals; `q` or Esc quits."""

    TITLE = "posterm fleet"
    CSS = """
    #fleet-note { height: 1; padding: 0 1; }
    #terminals { height: 1fr; }
    """
    BINDINGS = [
        Binding("q,escape", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, fleet: FleetSection, merchant: str | None = None) -> None:
        super().__init__()
        self.fleet = fleet
        self.merchant = merchant
        self.statuses: dict[str, dict[str, Any]] = {}
        """The latest status of each terminal, by its status topic."""
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static("", id="fleet-note", markup=False)
        yield DataTable(id="terminals", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name, key in zip(HEADER, COLUMNS, strict=True):
            table.add_column(name, key=key)
        self._note(f"Connecting to {self._where()} …")
        self.run_worker(self._listen, thread=True, group="fleet", exit_on_error=False)

    def on_unmount(self) -> None:
        self._stop.set()

    def _where(self) -> str:
        from terminal.fleet.broker import broker_address

        scope = f", merchant {self.merchant}" if self.merchant else ""
        return f"{broker_address(self.fleet.broker)}{scope}"

    def _note(self, text: str) -> None:
        self.query_one("#fleet-note", Static).update(text)

    # -- the worker thread -------------------------------------------------------------
    def _listen(self) -> None:
        from terminal.errors import PostermError
        from terminal.fleet.listing import Subscription

        topic = all_status(self.fleet.topic_prefix, self.merchant)
        try:
            with Subscription(self.fleet, topic) as subscription:
                self.call_from_thread(self._note, f"Listening on {self._where()}")
                while not self._stop.is_set():
                    try:
                        arrived, payload, _ = subscription.messages.get(timeout=0.25)
                    except queue.Empty:
                        continue
                    try:
                        status = json.loads(payload)
                    except (ValueError, UnicodeDecodeError):
                        continue
                    if isinstance(status, dict):
                        self.call_from_thread(self._show_safely, arrived, status)
        except PostermError as error:
            if not self._stop.is_set():
                self.call_from_thread(self._note, error.sentence)

    # -- the screen ----------------------------------------------------------------------
    def _show_safely(self, topic: str, status: dict[str, Any]) -> None:
        """A malformed status from the broker must not end the listening."""
        try:
            self.show(topic, status)
        except Exception:
            log.exception("fleet screen: a status on %s could not be shown", topic)

    def show(self, topic: str, status: dict[str, Any]) -> None:
        """Add or update the row of the terminal that published `status` on `topic`."""
        status.setdefault("last_seen", status.get("at"))
        table = self.query_one(DataTable)
        cells = [
            Text(cell, style="bold red") if key in ("online", "bank") and cell in ("NO", "offline")
            else Text(cell)
            for key, cell in zip(COLUMNS, status_row(status), strict=True)
        ]  # fmt: skip
        if topic in self.statuses:
            for key, cell in zip(COLUMNS, cells, strict=True):
                table.update_cell(topic, key, cell)
        else:
            table.add_row(*cells, key=topic)
            table.sort("merchant", "terminal", key=lambda cells: tuple(map(str, cells)))
        self.statuses[topic] = status
        offline = sum(1 for s in self.statuses.values() if not s.get("online"))
        self._note(
            f"{len(self.statuses)} terminal(s), {offline} offline — {self._where()} — q quits"
        )
