"""The journal's records: its schema, the rows as dataclasses, and time as the journal writes it.

Kept apart from `journal.py` (which owns the connection and the commits) so the shape of what is
stored reads in one place: there is no column for a PAN, track data or a CVV.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from terminal.money import Amount
from terminal.payment.states import Event, State

JOURNAL_FILE = "journal.sqlite3"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '',
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    entry TEXT NOT NULL DEFAULT '',
    reference TEXT NOT NULL DEFAULT '',
    tip INTEGER,
    masked_pan TEXT NOT NULL DEFAULT '',
    scheme TEXT NOT NULL DEFAULT '',
    aid TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    cryptogram_type TEXT NOT NULL DEFAULT '',
    cvm TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT '',
    seq INTEGER,
    request BLOB,
    answer BLOB,
    code TEXT NOT NULL DEFAULT '',
    auth_code TEXT NOT NULL DEFAULT '',
    gateway_ref TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    rule TEXT NOT NULL DEFAULT '',
    offline INTEGER NOT NULL DEFAULT 0,
    refunded INTEGER NOT NULL DEFAULT 0,
    batch INTEGER,
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_state ON transactions (state);
CREATE INDEX IF NOT EXISTS transactions_ref ON transactions (ref);
CREATE INDEX IF NOT EXISTS transactions_fingerprint ON transactions (fingerprint, created_at);
CREATE INDEX IF NOT EXISTS transactions_batch ON transactions (batch, created_at);
CREATE TABLE IF NOT EXISTS history (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    txn_id TEXT NOT NULL REFERENCES transactions (id),
    from_state TEXT NOT NULL,
    event TEXT NOT NULL,
    to_state TEXT NOT NULL,
    at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS history_txn ON history (txn_id);
CREATE TABLE IF NOT EXISTS outbox (
    qid INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    txn_id TEXT NOT NULL REFERENCES transactions (id),
    seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    last_attempt_at TEXT,
    parked INTEGER NOT NULL DEFAULT 0,
    done_at TEXT,
    result TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (done_at, qid);
CREATE TABLE IF NOT EXISTS batches (
    no INTEGER PRIMARY KEY,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    result TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    terminal_totals TEXT NOT NULL DEFAULT '',
    gateway_totals TEXT NOT NULL DEFAULT '',
    request BLOB,
    requested_at TEXT
);
"""

# Columns added after the first release, for journals created before them.
ADDED_COLUMNS = (
    ("batches", "request", "BLOB"),
    ("batches", "requested_at", "TEXT"),
    # What a scheme wants on the receipt from the card (application label, TC/ARQC, CVM).
    ("transactions", "label", "TEXT NOT NULL DEFAULT ''"),
    ("transactions", "cryptogram_type", "TEXT NOT NULL DEFAULT ''"),
    ("transactions", "cvm", "TEXT NOT NULL DEFAULT ''"),
    # What a partially approved sale asked for (its `amount` is what the issuer approved; the
    # rest is paid by the next tenders).
    ("transactions", "requested", "INTEGER"),
    # pre-authorisations (holds.py): the amount held now, what was captured, the bank's expiry
    ("transactions", "held", "INTEGER"),
    ("transactions", "captured", "INTEGER"),
    ("transactions", "expires_at", "TEXT NOT NULL DEFAULT ''"),
    ("transactions", "wallet_debit", "TEXT NOT NULL DEFAULT ''"),
)

# Columns `apply` may set besides the state (never a PAN: there is no column for one).
WRITABLE = frozenset(
    {
        "masked_pan",
        "scheme",
        "aid",
        "label",
        "cryptogram_type",
        "cvm",
        "fingerprint",
        "seq",
        "request",
        "answer",
        "code",
        "auth_code",
        "gateway_ref",
        "message",
        "rule",
        "offline",
        "refunded",
        "entry",
        "owner",
        "amount",
        "tip",
        "requested",
        "held",
        "captured",
        "expires_at",
        "wallet_debit",
    }
)
"""`amount` and `tip` change on a tip adjust or a partial approval (with `requested`)."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds, as PROTOCOL.md writes times (sorts as text)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Change:
    """One state move for `Journal.apply`: event plus the columns to set with it."""

    txn_id: str
    event: Event
    fields: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Transaction:
    """A journal row (what the engine and reports need; never sensitive card data)."""

    id: str
    type: str
    state: State
    ref: str
    amount: Amount
    entry: str
    reference: str
    tip: Amount | None
    masked_pan: str
    scheme: str
    aid: str
    fingerprint: str
    seq: int | None
    request: bytes | None
    code: str
    auth_code: str
    gateway_ref: str
    message: str
    rule: str
    offline: bool
    refunded: Amount
    batch: int | None
    owner: str
    """The engine instance that runs it; start-up recovery leaves a live owner's rows alone."""
    created_at: datetime
    updated_at: datetime
    label: str = ""
    """Application label (tag 50), e.g. "VISA CREDIT"."""
    cryptogram_type: str = ""
    """TC, ARQC or AAC: the cryptogram the card produced (tag 9F27)."""
    cvm: str = ""
    """How the cardholder was verified (`terminal.emv.receipt_data.Cvm` values)."""
    requested: Amount | None = None
    """A partially approved sale: the amount asked for (`amount` is the approved part)."""
    held: Amount | None = None
    """A pre-authorisation's amount held now (its own plus approved increments)."""
    captured: Amount | None = None
    """A pre-authorisation's captured amount, tip included."""
    expires_at: str = ""
    """When the bank releases an uncaptured hold (its answer's `expires_at`)."""
    wallet_debit: str = ""
    """A cross-border wallet payment's debit in the wallet's currency (cross_border.py)."""


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A signed message waiting in the store-and-forward queue (advice or reverse)."""

    qid: int
    message_id: str
    kind: str
    txn_id: str
    seq: int
    body: bytes
    amount: Amount
    created_at: datetime
    attempts: int
    last_error: str
    parked: bool


@dataclass(frozen=True, slots=True)
class QueueAnswer:
    """The gateway's answer to a queued message, to be recorded with its state change."""

    item: QueueItem
    result: str
    code: str
    change: Change
    also: tuple[Change, ...] = ()
    """Other moves of the same commit: a declined queued tip adjust gives the sale back its
    total; a capture or cancel moves its hold."""


Signer = Callable[[int, datetime], bytes]
"""Builds and signs a message given its `seq` and `created_at`; called inside the commit."""


def next_seq(conn: sqlite3.Connection) -> int:
    """The next `seq`, from the counter row, inside the caller's commit: strictly increasing
    and never reused across restarts, whichever process signs."""
    row = conn.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value"
    ).fetchone()
    return int(row[0])


def check_fields(fields: dict[str, Any]) -> None:
    """Refuse a column the journal does not have (there is none for card numbers)."""
    unknown = set(fields) - WRITABLE
    if unknown:
        raise ValueError(f"not journal columns: {sorted(unknown)}")


def transaction_of(row: sqlite3.Row) -> Transaction:
    currency = row["currency"]
    return Transaction(
        id=row["id"],
        type=row["type"],
        state=State(row["state"]),
        ref=row["ref"],
        amount=Amount.of(row["amount"], currency),
        entry=row["entry"],
        reference=row["reference"],
        tip=Amount.of(row["tip"], currency) if row["tip"] is not None else None,
        masked_pan=row["masked_pan"],
        scheme=row["scheme"],
        aid=row["aid"],
        fingerprint=row["fingerprint"],
        seq=row["seq"],
        request=row["request"],
        code=row["code"],
        auth_code=row["auth_code"],
        gateway_ref=row["gateway_ref"],
        message=row["message"],
        rule=row["rule"],
        offline=bool(row["offline"]),
        refunded=Amount.of(row["refunded"], currency),
        batch=row["batch"],
        owner=row["owner"],
        created_at=parse_iso(row["created_at"]),
        updated_at=parse_iso(row["updated_at"]),
        label=row["label"],
        cryptogram_type=row["cryptogram_type"],
        cvm=row["cvm"],
        requested=Amount.of(row["requested"], currency) if row["requested"] is not None else None,
        held=Amount.of(row["held"], currency) if row["held"] is not None else None,
        captured=Amount.of(row["captured"], currency) if row["captured"] is not None else None,
        expires_at=row["expires_at"],
        wallet_debit=row["wallet_debit"] or "",
    )


def queue_item_of(row: sqlite3.Row) -> QueueItem:
    return QueueItem(
        qid=row["qid"],
        message_id=row["message_id"],
        kind=row["kind"],
        txn_id=row["txn_id"],
        seq=row["seq"],
        body=row["body"],
        amount=Amount.of(row["amount"], row["currency"]),
        created_at=parse_iso(row["created_at"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        parked=bool(row["parked"]),
    )
