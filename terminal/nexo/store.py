"""What the nexo door remembers on disk: each (SaleID, ServiceID) it answered for 48 hours, with
the request's digest, the clear request and the answer, so a repeated ServiceID gets the
original's result (or is refused when it was another request) and `TransactionStatusRequest`
finds a payment's outcome after the POS lost its connection or posterm restarted.

SQLite in `<data_dir>/nexo.sqlite`; a request holds no card data (amounts and the till's ids),
an answer none beyond the masked PAN. The request is kept so a payment whose process died before
its journal row existed can be looked up by the till's TransactionID and answered with the
original SaleData after a restart.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

KEEP_S = 48 * 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS services (
    sale_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    category TEXT NOT NULL,
    digest TEXT NOT NULL,
    transaction_id TEXT NOT NULL DEFAULT '',
    response BLOB,
    request BLOB,
    created_at REAL NOT NULL,
    PRIMARY KEY (sale_id, service_id)
);
CREATE INDEX IF NOT EXISTS services_by_sale ON services (sale_id, category, created_at);
"""


@dataclass(frozen=True, slots=True)
class Service:
    sale_id: str
    service_id: str
    category: str
    digest: str
    transaction_id: str
    response: bytes | None
    """The clear `{"SaleToPOIResponse": ...}` document, once there is one."""
    request: bytes | None = None
    """The clear `{"SaleToPOIRequest": ...}` document (None in rows older than the column)."""
    created_at: float = 0.0


CHECKPOINT_EVERY = 256
"""Writes between two copies of the WAL into the database file (`checkpoint`)."""


class ServiceStore:
    """The (SaleID, ServiceID) memory; thread-safe, each call one short transaction.

    A payment's claim and answer are written from the event loop itself (a thread hop each cost
    more than the write: no fsync, see below); so no write ever runs a WAL checkpoint, which
    would sync the file inside the loop. The door runs `checkpoint` in a worker thread, on a
    connection of its own, every `CHECKPOINT_EVERY` writes (`checkpoint_due`).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of posterm, a power cut may lose the
        # last ones; the journal stays the record of the money, this only maps ServiceIDs.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._writes = 0
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(services)")}
        if "request" not in columns:  # a store made before requests were kept
            self._db.execute("ALTER TABLE services ADD COLUMN request BLOB")
        self._lock = threading.Lock()
        self.prune()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def checkpoint_due(self) -> bool:
        """True once every `CHECKPOINT_EVERY` payment answers (then `checkpoint`, off the loop)."""
        self._writes += 1
        return self._writes % CHECKPOINT_EVERY == 0

    def checkpoint(self) -> None:
        """Copy the WAL into the database file without waiting for the door's writes (PASSIVE),
        on a short connection of its own so the door's calls never wait for it."""
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def prune(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM services WHERE created_at < ?", (time.time() - KEEP_S,))

    def _row(self, row: tuple[object, ...] | None) -> Service | None:
        if row is None:
            return None
        sale_id, service_id, category, digest, transaction_id, response, request, created = row
        return Service(
            str(sale_id),
            str(service_id),
            str(category),
            str(digest),
            str(transaction_id),
            bytes(response) if isinstance(response, (bytes, memoryview)) else None,
            bytes(request) if isinstance(request, (bytes, memoryview)) else None,
            created if isinstance(created, float) else 0.0,
        )

    _COLUMNS = (
        "sale_id, service_id, category, digest, transaction_id, response, request, created_at"
    )

    def get(self, sale_id: str, service_id: str) -> Service | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM services WHERE sale_id = ? AND service_id = ? "  # noqa: S608
                "AND created_at >= ?",
                (sale_id, service_id, time.time() - KEEP_S),
            ).fetchone()
        return self._row(row)

    def last_payment(self, sale_id: str) -> Service | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM services WHERE sale_id = ? "  # noqa: S608
                "AND category = 'Payment' AND created_at >= ? ORDER BY created_at DESC LIMIT 1",
                (sale_id, time.time() - KEEP_S),
            ).fetchone()
        return self._row(row)

    def remember(self, sale_id: str, service_id: str, category: str, digest: str) -> bool:
        """Record a new request; False when this (SaleID, ServiceID) is already known."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO services (sale_id, service_id, category, digest, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (sale_id, service_id, category, digest, time.time()),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def claim(
        self, sale_id: str, service_id: str, category: str, digest: str, request: bytes = b""
    ) -> Service | None:
        """Record a new request and return None, or return the request already recorded under
        this (SaleID, ServiceID) within 48 hours (one short transaction either way)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    f"SELECT {self._COLUMNS} FROM services WHERE sale_id = ? "  # noqa: S608
                    "AND service_id = ?",
                    (sale_id, service_id),
                ).fetchone()
                found = self._row(row)
                if found is None:
                    self._db.execute(
                        "INSERT INTO services (sale_id, service_id, category, digest, request, "
                        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (sale_id, service_id, category, digest, request, time.time()),
                    )
                elif self._stale(sale_id, service_id):
                    self._db.execute(
                        "UPDATE services SET category = ?, digest = ?, transaction_id = '', "
                        "response = NULL, request = ?, created_at = ? "
                        "WHERE sale_id = ? AND service_id = ?",
                        (category, digest, request, time.time(), sale_id, service_id),
                    )
                    found = None
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return found

    def _stale(self, sale_id: str, service_id: str) -> bool:
        row = self._db.execute(
            "SELECT created_at FROM services WHERE sale_id = ? AND service_id = ?",
            (sale_id, service_id),
        ).fetchone()
        return row is not None and float(row[0]) < time.time() - KEEP_S

    def forget(self, sale_id: str, service_id: str) -> None:
        """A request that was refused before anything ran (Busy, MessageFormat): the POS may
        send it again with the same ServiceID."""
        with self._lock:
            self._db.execute(
                "DELETE FROM services WHERE sale_id = ? AND service_id = ?", (sale_id, service_id)
            )

    def set_transaction(self, sale_id: str, service_id: str, transaction_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE services SET transaction_id = ? WHERE sale_id = ? AND service_id = ?",
                (transaction_id, sale_id, service_id),
            )

    def answer(
        self, sale_id: str, service_id: str, response: bytes, transaction_id: str = ""
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE services SET response = ?, "
                "transaction_id = CASE WHEN ? != '' THEN ? ELSE transaction_id END "
                "WHERE sale_id = ? AND service_id = ?",
                (response, transaction_id, transaction_id, sale_id, service_id),
            )
