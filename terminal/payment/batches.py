"""Batch records: which batch is open, its close_batch message and the gateway's answer.

The close is signed and kept with the open batch before it is sent, so a close whose answer
was lost is re-sent with the same id (the gateway closes a batch once); the answer closes the
batch and opens the next in one commit. Transactions carry the batch they were made in.

`BatchRecords` is a base of `Journal` (journal.py); the totals are in `reports.py`.
"""

from __future__ import annotations

from datetime import datetime

from terminal.payment.group_commit import GroupCommit
from terminal.payment.records import Clock, Signer, iso, next_seq, parse_iso


class BatchRecords(GroupCommit):
    """The journal's batches table and its open batch number."""

    clock: Clock
    """Set by the journal."""

    @property
    def batch_no(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key = 'batch'"))

    def store_close(self, message_id: str, terminal_totals: str, sign: Signer) -> bytes:
        """Sign the close_batch and keep it with the open batch before it is sent, so a close
        whose answer was lost is re-sent with the same id (the gateway closes a batch once)."""
        with self._write() as conn:
            moment = self.clock()
            body = sign(next_seq(conn), moment)
            conn.execute(
                "UPDATE batches SET message_id = ?, terminal_totals = ?, request = ?, "
                "requested_at = ? WHERE no = (SELECT value FROM meta WHERE key = 'batch')",
                (message_id, terminal_totals, body, iso(moment)),
            )
        return body

    def pending_close(self) -> tuple[str, str, bytes] | None:
        """(message id, terminal totals, signed bytes) of a close sent without an answer."""
        rows = self._read(
            "SELECT message_id, terminal_totals, request FROM batches WHERE no = "
            "(SELECT value FROM meta WHERE key = 'batch') AND request IS NOT NULL"
        )
        if not rows:
            return None
        return rows[0][0], rows[0][1], rows[0][2]

    def close_batch(self, result: str, gateway_totals: str) -> int:
        """Record the gateway's answer to the stored close_batch and open the next batch;
        transactions made after the close was signed move to the new batch."""
        now = iso(self.clock())
        with self._write() as conn:
            number = int(conn.execute("SELECT value FROM meta WHERE key = 'batch'").fetchone()[0])
            cutoff = conn.execute(
                "SELECT COALESCE(requested_at, ?) FROM batches WHERE no = ?", (now, number)
            ).fetchone()[0]
            conn.execute(
                "UPDATE batches SET closed_at = ?, result = ?, gateway_totals = ? WHERE no = ?",
                (now, result, gateway_totals, number),
            )
            conn.execute("UPDATE meta SET value = ? WHERE key = 'batch'", (number + 1,))
            conn.execute("INSERT INTO batches (no, opened_at) VALUES (?, ?)", (number + 1, now))
            conn.execute(
                "UPDATE transactions SET batch = ? WHERE batch = ? AND created_at > ?",
                (number + 1, number, cutoff),
            )
        return number

    def batch_opened_at(self) -> datetime | None:
        text = self.scalar("SELECT opened_at FROM batches WHERE no = ?", (self.batch_no,))
        return parse_iso(text) if text else None
