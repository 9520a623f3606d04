"""The disk reserve: a payment is refused before the card is read when the journal could not
record it, never after the bank approved it.

Free space under the data folder is checked first; then the journal file proves it can grow
by the reserve (a blob written and dropped in one commit: it needs new pages, which a full disk
or a read-only file refuses). `Journal.create(reserve_bytes=...)` makes the same proof inside
the commit that inserts the transaction.

`DiskReserve` is a base of `Journal` (journal.py).
"""

from __future__ import annotations

import shutil
import sqlite3

from terminal.payment.errors import JournalUnavailable, journal_unavailable
from terminal.payment.group_commit import GroupCommit


class DiskReserve(GroupCommit):
    """The journal's pre-flight checks."""

    def check_free_space(self, reserve_bytes: int) -> None:
        """`JournalUnavailable` when the data folder's disk has less than the reserve free."""
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError as error:
            raise journal_unavailable(self.path, error) from None
        if free < reserve_bytes:
            raise JournalUnavailable(
                f"The disk holding the payment journal is full ({free // 1024} KiB free, "
                f"{reserve_bytes // 1024} KiB needed): sale refused before reading the card. "
                f"Free space in {self.path.parent}."
            )

    def check_writable(self, reserve_bytes: int) -> None:
        """Refuse a payment now, before a card is read, if it could not be journaled.

        Checks free space under the data folder, then proves the file can grow by the reserve
        (a blob written and dropped in one commit: it needs new pages, which a full disk or a
        read-only file refuses).
        """
        self.check_free_space(reserve_bytes)
        with self._write() as conn:
            probe(conn, reserve_bytes)


def probe(conn: sqlite3.Connection, reserve_bytes: int) -> None:
    """Make the file grow by the reserve and give it back, inside the caller's commit."""
    conn.execute("CREATE TABLE IF NOT EXISTS reserve_probe (b BLOB)")
    conn.execute("INSERT INTO reserve_probe VALUES (zeroblob(?))", (min(reserve_bytes, 1 << 20),))
    conn.execute("DELETE FROM reserve_probe")
