"""The simulator's books in SQLite (WAL, synchronous=FULL): a restart or kill -9 loses nothing.

Everything one message changes (balances, ledger entries, intents, the stored answer that makes
retries idempotent) is written in ONE transaction, so after a crash either all of it happened
and a retry gets the stored answer, or none of it did and a retry is processed afresh.

Tables: `messages` (id -> digest + signed answer), `entries` (one per message that moved or
reserved money), `cards` (keyed by an HMAC-SHA-256 of the PAN with the simulator's own key, so
neither the PAN nor a hash anyone could recompute from a PAN list is on disk), `intents` (QR),
`codes` (one-time consumer-presented codes), `terminals` (enrolled public keys by kid),
`batches` (current batch number per terminal), `tombstones` (ids reversed before they arrived),
`cryptograms` (each card's application cryptograms already authorised: a replay is declined).
The database file is created 0600 (SQLite gives its WAL and shared-memory files the same mode).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, terminal_id TEXT NOT NULL, type TEXT NOT NULL, digest TEXT NOT NULL,
    answer BLOB NOT NULL, result TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, ref TEXT NOT NULL,
    type TEXT NOT NULL, terminal_id TEXT NOT NULL, value INTEGER NOT NULL, currency TEXT NOT NULL,
    result TEXT NOT NULL, code TEXT NOT NULL, at TEXT NOT NULL, account TEXT NOT NULL,
    batch INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'active',
    refunded INTEGER NOT NULL DEFAULT 0, auth_code TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS entries_ref ON entries(ref);
CREATE INDEX IF NOT EXISTS entries_account ON entries(account, at);
CREATE TABLE IF NOT EXISTS cards (
    account TEXT PRIMARY KEY, name TEXT NOT NULL, masked_pan TEXT NOT NULL, expiry TEXT NOT NULL,
    psn TEXT NOT NULL, status TEXT NOT NULL, balance INTEGER NOT NULL, currency TEXT NOT NULL,
    issuer TEXT NOT NULL, aid TEXT NOT NULL DEFAULT '', label TEXT NOT NULL DEFAULT '',
    partial TEXT NOT NULL DEFAULT 'never');
CREATE INDEX IF NOT EXISTS cards_name ON cards(name);
CREATE TABLE IF NOT EXISTS intents (
    intent_id TEXT PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, terminal_id TEXT NOT NULL,
    value INTEGER NOT NULL, currency TEXT NOT NULL, expires_at TEXT NOT NULL,
    state TEXT NOT NULL, code TEXT NOT NULL DEFAULT '', auth_code TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS codes (
    digest TEXT PRIMARY KEY, account TEXT NOT NULL, expires_at TEXT NOT NULL,
    used_by TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS paycodes (
    digest TEXT PRIMARY KEY, scheme TEXT NOT NULL, account TEXT NOT NULL,
    expires_at TEXT NOT NULL, confirm_s REAL, used_by TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS wallet_payments (
    message_id TEXT PRIMARY KEY, terminal_id TEXT NOT NULL, scheme TEXT NOT NULL,
    account TEXT NOT NULL, value INTEGER NOT NULL, currency TEXT NOT NULL, confirm_at TEXT,
    state TEXT NOT NULL, code TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
    auth_code TEXT NOT NULL DEFAULT '', wallet_value INTEGER, wallet_currency TEXT,
    rate TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS terminals (
    kid TEXT PRIMARY KEY, terminal_id TEXT NOT NULL, jwk TEXT NOT NULL, enrolled_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (terminal_id TEXT PRIMARY KEY, number INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seqs (terminal_id TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (id TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cryptograms (
    account TEXT NOT NULL, arqc TEXT NOT NULL, atc TEXT NOT NULL, message_id TEXT NOT NULL,
    PRIMARY KEY (account, arqc));
"""


def account_of(pan: str, key: bytes) -> str:
    """The card's key in the books: HMAC-SHA-256 of the PAN under the simulator's key."""
    return hmac.new(key, pan.encode("ascii"), hashlib.sha256).hexdigest()


class Ledger:
    """One SQLite connection, used from the server's event loop thread only."""

    def __init__(self, path: Path, pan_key: bytes) -> None:
        self.path = path
        self.pan_key = pan_key
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        for existing in (
            path,
            path.with_name(path.name + "-wal"),
            path.with_name(path.name + "-shm"),
        ):
            if existing.exists():
                existing.chmod(0o600)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(cards)")}
        if "partial" not in columns:  # books written before prepaid cards approved partially
            self.db.execute("ALTER TABLE cards ADD COLUMN partial TEXT NOT NULL DEFAULT 'never'")
        self._savepoints = itertools.count(1)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (then re-raised).

        Inside an open group commit (see `Simulator.handle_async`) this is a SAVEPOINT: its
        changes are undone alone on error and committed with the group otherwise.
        """
        if self.db.in_transaction:
            name = f"sp{next(self._savepoints)}"
            self.db.execute(f"SAVEPOINT {name}")
            try:
                yield self.db
            except BaseException:
                self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
                raise
            self.db.execute(f"RELEASE {name}")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(sql, args).fetchone()
        return row

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return list(self.db.execute(sql, args).fetchall())

    def run(self, sql: str, *args: Any) -> None:
        self.db.execute(sql, args)

    def account_of(self, pan: str) -> str:
        """The card's account key (keyed fingerprint of the PAN)."""
        return account_of(pan, self.pan_key)

    # -- lookups used everywhere ---------------------------------------------------------

    def stored(self, message_id: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM messages WHERE id = ?", message_id)

    def card(self, account: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM cards WHERE account = ?", account)

    def card_by_name(self, name: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM cards WHERE name = ? ORDER BY rowid LIMIT 1", name)

    def entry(self, message_id: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM entries WHERE id = ?", message_id)

    def intent(self, ref: str) -> sqlite3.Row | None:
        return self.one(
            "SELECT * FROM intents WHERE intent_id = ? OR message_id = ? LIMIT 1", ref, ref
        )

    def batch(self, terminal_id: str) -> int:
        row = self.one("SELECT number FROM batches WHERE terminal_id = ?", terminal_id)
        return int(row["number"]) if row else 1

    def add_entry(
        self,
        *,
        id: str,
        ref: str,
        type: str,
        terminal_id: str,
        value: int,
        currency: str,
        result: str,
        code: str,
        at: str,
        account: str,
        auth_code: str = "",
    ) -> None:
        self.run(
            "INSERT INTO entries (id, ref, type, terminal_id, value, currency, result, code, at,"
            " account, batch, auth_code) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            id,
            ref,
            type,
            terminal_id,
            value,
            currency,
            result,
            code,
            at,
            account,
            self.batch(terminal_id),
            auth_code,
        )

    def move(self, account: str, delta: int) -> None:
        """Add `delta` minor units to a card's balance (negative: a charge)."""
        self.run("UPDATE cards SET balance = balance + ? WHERE account = ?", delta, account)

    def ledger_view(self, terminal_id: str | None = None) -> list[dict[str, Any]]:
        """GET /sim/ledger's entries, oldest first."""
        sql = "SELECT * FROM entries"
        args: tuple[Any, ...] = ()
        if terminal_id:
            sql += " WHERE terminal_id = ?"
            args = (terminal_id,)
        return [
            {
                "id": row["id"],
                "ref": row["ref"],
                "type": row["type"],
                "terminal_id": row["terminal_id"],
                "amount": {"value": row["value"], "currency": row["currency"]},
                "result": row["result"],
                "code": row["code"],
                "at": row["at"],
                "state": row["state"],
            }
            for row in self.all(sql + " ORDER BY n", *args)
        ]
