"""Card data retention: the journal keeps a transaction's card data only while its message may
be sent again (PCI DSS 3.3.1).

The stored request (whose card data is a JWE the terminal cannot open) is needed while a
transaction is in `KEEPS_REQUEST`: it may be retried, or forwarded as an advice. The commit that
moves it out replaces the request, and any forwarded advice, with the bank adapter's redacted
record (`redact`). `secure_delete` (set when the journal opens) zeroes the old pages, and the
WAL is emptied shortly after, so the old bytes do not linger in either file.

`CardDataWipe` is a base of `Journal` (journal.py), which calls `_wipe_card_data` in every
state change it commits.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from terminal.payment.group_commit import GroupCommit
from terminal.payment.states import State

log = logging.getLogger("terminal.payment.journal")  # the journal's records, under its name

KEEPS_REQUEST = frozenset({State.AUTHORISING, State.APPROVED_OFFLINE})
"""States whose stored request may still be sent (retried, or forwarded as an advice); in
every other state its card data is wiped in the commit that gets there."""

WAL_TRUNCATE_DELAY_S = 0.5
"""How soon after a commit that wiped card data the WAL is emptied of the old frames."""


class CardDataWipe(GroupCommit):
    """Redacts stored card data in the caller's commit and empties the WAL after it."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        super().__init__(conn, path)
        self.redact: Callable[[bytes], bytes] | None = None
        """The bank adapter's redaction of its stored bytes (`Bank.redact`); the engine sets
        it, and every commit that ends a transaction's need to re-send wipes its card data."""
        self._wiped_in_txn = False
        self._wal_timer: threading.Timer | None = None

    def _wipe_card_data(self, conn: sqlite3.Connection, txn_id: str) -> int:
        """Redact the stored request and forwarded advice of a transaction whose bytes can no
        longer be re-sent, in the caller's commit; how many blobs changed."""
        redact = self.redact
        if redact is None:
            return 0
        changed = 0
        row = conn.execute("SELECT request FROM transactions WHERE id = ?", (txn_id,)).fetchone()
        if row is not None and row[0] is not None:
            kept = redact(bytes(row[0]))
            if kept != row[0]:
                conn.execute("UPDATE transactions SET request = ? WHERE id = ?", (kept, txn_id))
                changed += 1
        for qid, body in conn.execute(
            "SELECT qid, body FROM outbox WHERE txn_id = ? AND kind = 'advice' "
            "AND done_at IS NOT NULL",
            (txn_id,),
        ).fetchall():
            kept = redact(bytes(body))
            if kept != body:
                conn.execute("UPDATE outbox SET body = ? WHERE qid = ?", (kept, qid))
                changed += 1
        if changed:
            self._wiped_in_txn = True
        return changed

    def wipe_card_data(self) -> int:
        """Redact every stored request that can no longer be re-sent (journals written before
        card data was wiped at the final answer); how many blobs changed. Idempotent."""
        if self.redact is None:
            raise ValueError("the journal has no bank adapter to redact with")
        keep = tuple(state.value for state in KEEPS_REQUEST)
        marks = ", ".join("?" * len(keep))
        ids = [
            row[0]
            for row in self._read(
                f"SELECT id FROM transactions WHERE request IS NOT NULL "  # noqa: S608
                f"AND state NOT IN ({marks})",
                keep,
            )
        ]
        changed = 0
        for start in range(0, len(ids), 200):
            with self._write() as conn:
                for txn_id in ids[start : start + 200]:
                    changed += self._wipe_card_data(conn, txn_id)
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('card_data_wiped', 1)")
        return changed

    @property
    def card_data_wiped(self) -> bool:
        """The whole journal was redacted once (`wipe_card_data`) since this rule exists."""
        return bool(self.scalar("SELECT value FROM meta WHERE key = 'card_data_wiped'"))

    # -- emptying the WAL -----------------------------------------------------------------
    def _after_commit(self, committed: bool) -> None:
        super()._after_commit(committed)
        if self._wiped_in_txn:
            self._wiped_in_txn = False
            if committed:
                self._truncate_wal_soon()

    def _before_close(self) -> None:
        super()._before_close()
        if self._wal_timer is not None:  # a wipe's WAL frames must not outlive the process
            self._wal_timer.cancel()
            self._wal_timer = None
            self._truncate_wal()

    def _truncate_wal_soon(self) -> None:
        """Empty the WAL `WAL_TRUNCATE_DELAY_S` after the last wipe, off the path of the sale
        whose answer wiped it: the checkpoint copies pages and syncs the database file (about
        as long as the sale's own commits), and the operator is waiting for the outcome. Called
        with the connection lock held; `close` empties it at once if still pending."""
        if self._wal_timer is not None:
            self._wal_timer.cancel()
        self._wal_timer = threading.Timer(WAL_TRUNCATE_DELAY_S, self._truncate_wal_later)
        self._wal_timer.daemon = True
        self._wal_timer.start()

    def _truncate_wal_later(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._wal_timer = None
            self._truncate_wal()

    def flush_wiped(self) -> None:
        """Empty the WAL now if a wipe is waiting for it (tests, maintenance)."""
        with self._lock:
            if self._wal_timer is not None and not self._closed:
                self._wal_timer.cancel()
                self._wal_timer = None
                self._truncate_wal()

    def _truncate_wal(self) -> None:
        """Copy the WAL into the database and empty it, so the frames that held card data
        before it was redacted leave the -wal file (best effort: a reader in another process
        may hold it; the next redaction tries again)."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as error:
            log.warning("journal checkpoint after wiping card data failed: %s", error)
