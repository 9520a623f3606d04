"""The adapter's own durable state: the STAN counter and what each request was.

`iso8583.db` beside the journal (SQLite, WAL, synchronous=FULL):

- `stan`: the last STAN (F11) given out, 000001–999999 then wraps. Taken in its own commit
  before the request's bytes exist, so a crash burns a number at worst and never hands one
  out twice (at one message a second a day holds 86 400 of them).
- `sent`: per message id, the sealed request (its MTI, STAN and F7 for a reversal's F90 and a
  refund's or void's original), how many times it went out (a 0200 never goes twice; a 0400
  or 0220 goes again as 0401 or 0221), and the host's F37/F38 once it answered.

Written before the journal commits its own copy, so whatever the journal holds is found here.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

MAX_STAN = 999_999
FILE = "iso8583.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stan (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sent (
    message_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    mti TEXT NOT NULL,
    stan TEXT NOT NULL,
    f7 TEXT NOT NULL,
    sealed BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    rrn TEXT NOT NULL DEFAULT '',
    auth_code TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True, slots=True)
class Record:
    """One request as the adapter keeps it."""

    message_id: str
    kind: str
    mti: str
    stan: str
    f7: str
    sealed: bytes
    attempts: int = 0
    rrn: str = ""
    auth_code: str = ""


class Store:
    """The STAN counter and the request records of one terminal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        path.chmod(0o600)

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        return cls(Path(data_dir) / FILE)

    def next_stan(self) -> str:
        """The next STAN, committed before it is used."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT last FROM stan WHERE id = 1").fetchone()
                number = (row[0] % MAX_STAN) + 1 if row else 1
                self._db.execute("INSERT OR REPLACE INTO stan (id, last) VALUES (1, ?)", (number,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return f"{number:06d}"

    def keep(self, record: Record) -> None:
        """Record a request (replacing a record of the same id: its bytes were re-made)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sent "
                "(message_id, kind, mti, stan, f7, sealed) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.message_id,
                    record.kind,
                    record.mti,
                    record.stan,
                    record.f7,
                    record.sealed,
                ),
            )

    def get(self, message_id: str) -> Record | None:
        with self._lock:
            row = self._db.execute(
                "SELECT message_id, kind, mti, stan, f7, sealed, attempts, rrn, auth_code "
                "FROM sent WHERE message_id = ?",
                (message_id,),
            ).fetchone()
        return Record(*row) if row else None

    def attempt(self, message_id: str) -> int:
        """Count one more sending of `message_id`, committed before it leaves; how many
        times it had gone before."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT attempts FROM sent WHERE message_id = ?", (message_id,)
                ).fetchone()
                before = int(row[0]) if row else 0
                self._db.execute(
                    "UPDATE sent SET attempts = attempts + 1 WHERE message_id = ?", (message_id,)
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return before

    def reseal(self, message_id: str, sealed: bytes) -> None:
        """Replace a record's sealed request (its card data reduced once it was answered)."""
        with self._lock:
            self._db.execute(
                "UPDATE sent SET sealed = ? WHERE message_id = ?", (sealed, message_id)
            )

    def answered(self, message_id: str, rrn: str, auth_code: str) -> None:
        """Keep the host's references (F37, F38) for later messages about the same sale."""
        with self._lock:
            self._db.execute(
                "UPDATE sent SET rrn = ?, auth_code = ? WHERE message_id = ?",
                (rrn, auth_code, message_id),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
