"""Group commit: the journal's SQLite connection, shared by threads that each wait for their own
change to be on disk, but pay for one fsync together.

Why it is built this way:
- WAL mode with `synchronous=FULL`: a commit is on disk when the unit returns, so a power cut
  or `kill -9` never loses a state the operator was told about.
- Units of concurrent callers share one SQLite transaction (each in its own savepoint, so a
  unit that raises is undone alone); the first caller to wait commits for all. A forwarder
  window of answers or overlapping sales so costs one fsync, not one each.
- A unit may say it needs no fsync (`durable=False`, the journal's new-transaction row): its
  group commits with `synchronous=NORMAL`, and a durable unit arriving meanwhile commits that
  group first and opens a durable one.

`GroupCommit` is the base of `Journal` (journal.py); what a unit writes is the journal's.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from terminal.payment.errors import JournalUnavailable, journal_unavailable


class GroupCommit:
    """One SQLite connection whose writers share commits; safe to share between threads."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        """Guards the connection; held while a unit runs, never while waiting for a commit."""
        self._committer = threading.Lock()
        """One thread at a time commits; others queue here and usually find their work done."""
        self._txn_open = False
        self._generation = 0
        """Number of the open (or last) group transaction."""
        self._committed = 0
        self._failed: dict[int, JournalUnavailable] = {}
        self.commits = 0
        """Commits so far: fewer than state changes when callers overlap."""
        self.syncs = 0
        """Commits that waited for an fsync (every one but a lone `create`)."""
        self._txn_durable = True
        """The open group transaction commits with an fsync."""
        self._sync_full = True
        """The connection's current `synchronous` setting is FULL (else NORMAL)."""
        self.path = path
        self._closed = False

    def close(self) -> None:
        with self._lock:
            self._commit_open()
            self._before_close()
            self._closed = True
            self._conn.close()

    # -- hooks for what rides on the commits (card_wipe.py) ---------------------------------
    def _after_commit(self, committed: bool) -> None:
        """Called with the connection lock held once the open group committed (or failed)."""

    def _before_close(self) -> None:
        """Called with the connection lock held, everything committed, before closing."""

    # -- units ----------------------------------------------------------------------------
    @contextmanager
    def _write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One unit of work, durable when the block exits (group commit).

        Units of concurrent callers share one SQLite transaction and so one fsync: each runs
        in its own savepoint (a unit that raises is undone alone), then waits until the
        transaction holding it is committed. Nobody returns before its change is on disk; a
        failed commit raises `JournalUnavailable` in every caller of that group.
        """
        with self._lock:
            if self._txn_open and durable and not self._txn_durable:
                # The open group would commit without an fsync; this unit needs one, so that
                # group commits first (its units needed no more) and a durable one begins.
                self._commit_open()
            if not self._txn_open:
                try:
                    if self._sync_full != durable:
                        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                        self._sync_full = durable
                    self._conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as error:
                    raise journal_unavailable(self.path, error) from None
                self._txn_open = True
                self._txn_durable = durable
                self._generation += 1
            generation = self._generation
            self._conn.execute("SAVEPOINT unit")
            try:
                yield self._conn
                self._conn.execute("RELEASE unit")
            except sqlite3.Error as error:
                self._undo_unit(generation, error)
                raise journal_unavailable(self.path, error) from None
            except BaseException:
                self._undo_unit(generation, None)
                raise
        self._wait_for_commit(generation)

    def _undo_unit(self, generation: int, error: sqlite3.Error | None) -> None:
        """Roll back one unit; if SQLite dropped the whole transaction, fail the group."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK TO unit")
                self._conn.execute("RELEASE unit")
                return
            except sqlite3.Error:
                self._rollback()
        self._txn_open = False
        self._failed[generation] = journal_unavailable(
            self.path, error or sqlite3.Error("rolled back")
        )

    def _wait_for_commit(self, generation: int) -> None:
        with self._committer:
            if self._committed < generation and generation not in self._failed:
                with self._lock:
                    self._commit_open()
        failure = self._failed.get(generation)
        if failure is not None:
            raise failure

    def _commit_open(self) -> None:
        """Commit the open group transaction (call with the connection lock held)."""
        if not self._txn_open:
            return
        generation = self._generation
        self._txn_open = False
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            self._after_commit(False)
            self._failed[generation] = journal_unavailable(self.path, error)
            return
        self._committed = generation
        self.commits += 1
        self.syncs += self._txn_durable
        self._after_commit(True)

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            self._commit_open()  # never read what is not yet on disk
            try:
                cursor = self._conn.execute(sql, params)
                cursor.row_factory = sqlite3.Row
                return list(cursor.fetchall())
            except sqlite3.Error as error:
                raise journal_unavailable(self.path, error) from None

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the first row (None when there is none), read after a commit."""
        rows = self._read(sql, params)
        return rows[0][0] if rows else None
