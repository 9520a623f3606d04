"""What every payment operation works with, handed to it instead of the engine.

The sale, refunds and voids, the merchant-presented code and the settlement step each take a
`Core`: the journal, the bank port, this process's owner lock and the store-and-forward queue.
The engine composes them and nothing reaches back into it, so the modules of the payment core
import in one direction only (engine → operations → settlement → port, journal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from terminal.payment.bank import Bank
from terminal.payment.journal import Journal
from terminal.payment.records import QueueItem
from terminal.payment.recovery import OwnerLock
from terminal.settings import Settings


class Forwarding(Protocol):
    """The store-and-forward queue as operations use it (see forwarder.py)."""

    def wake(self) -> None: ...

    async def forward_one(self, item: QueueItem, *, deadline_s: float | None = None) -> str: ...


@dataclass(slots=True)
class Tracker:
    """How far a running operation got: its transaction's id once the row exists (so a
    failure can be settled), and where the time went (for the overhead benchmark)."""

    txn_id: str = ""
    device_s: float = 0.0
    bank_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Core:
    """The parts one payment operation needs."""

    settings: Settings
    journal: Journal
    bank: Bank
    owner: OwnerLock
    forwarder: Forwarding
