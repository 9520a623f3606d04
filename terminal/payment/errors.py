"""Errors of the payment core, each with the sentence the operator reads.

    PaymentError(PostermError)        anything the payment core refuses or cannot do
    ├── JournalUnavailable            the journal cannot be written (disk full, read-only, I/O);
    │                                 a sale is refused before the card is read   (exit 3)
    ├── IllegalTransition             an event that the state machine does not allow from the
    │                                 transaction's state: a bug, never a customer's doing (exit 3)
    ├── UnknownTransaction            no transaction with that id                      (exit 2)
    ├── RefundNotAllowed              the sale cannot be refunded (state, amount above what is
    │                                 left, other currency)                            (exit 2)
    ├── VoidNotAllowed                the sale cannot be voided (settled, refunded, declined)
    │                                                                                  (exit 2)
    ├── NotConfigured                 the gateway keys or terminal identity are missing  (exit 2)
    └── DeviceUnavailable             no card reader / camera is configured or it is absent
                                                                                       (exit 3)

Refusals with exit code 2 are raised before anything is sent, so they never move money.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from terminal.errors import PostermError


class PaymentError(PostermError):
    """Base of the payment core's errors."""


class JournalUnavailable(PaymentError):
    """The journal cannot be written, so no payment may start."""

    exit_code = 3


class IllegalTransition(PaymentError):
    """A transaction was asked to move along an edge its state machine does not have."""

    exit_code = 3

    def __init__(self, transaction_id: str, state: str, event: str) -> None:
        super().__init__(
            f"Transaction {transaction_id} is {state}; it cannot take the step '{event}'."
        )
        self.transaction_id = transaction_id
        self.state = state
        self.event = event


class UnknownTransaction(PaymentError):
    """The id names no transaction in this terminal's journal."""

    exit_code = 2

    def __init__(self, transaction_id: str) -> None:
        super().__init__(
            f"No transaction with id {transaction_id!r} in this terminal's journal; "
            "check the id with `posterm history`."
        )
        self.transaction_id = transaction_id


class RefundNotAllowed(PaymentError):
    """The refund was refused before anything was sent."""

    exit_code = 2


class VoidNotAllowed(PaymentError):
    """The void was refused before anything was sent."""

    exit_code = 2


class HoldNotAllowed(PaymentError):
    """An increment, capture or cancel of a pre-authorisation refused before anything was
    sent (unknown or closed hold, bad amount or tip, another currency)."""

    exit_code = 2


class NotConfigured(PaymentError):
    """The engine cannot be built from this configuration (a technician's fix)."""

    exit_code = 2


class DeviceUnavailable(PaymentError):
    """The entry method's device is not configured or not present."""

    exit_code = 3


def journal_problem(error: BaseException) -> str:
    """Why SQLite refused, in words a technician acts on."""
    text = str(error) or type(error).__name__
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorname", "")
        if code in ("SQLITE_FULL",) or "full" in text:
            return "the disk is full"
        if code.startswith("SQLITE_READONLY") or "readonly" in text:
            return "the file is read-only"
        if code.startswith("SQLITE_IOERR") or "disk I/O" in text:
            return "disk I/O error"
        if code.startswith("SQLITE_CANTOPEN"):
            return "the file cannot be opened"
        if code.startswith("SQLITE_BUSY") or "locked" in text:
            return "another process holds it locked"
    return text


def journal_unavailable(path: Path, error: BaseException) -> JournalUnavailable:
    """The operator's sentence for a journal that SQLite cannot write, naming why."""
    return JournalUnavailable(
        f"The payment journal cannot be written ({journal_problem(error)}): nothing was charged "
        f"and no card was read. Free space or fix permissions in {path.parent}, then try again."
    )
