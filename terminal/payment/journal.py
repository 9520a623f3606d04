"""The journal: the terminal's durable memory of every payment, in one SQLite file.

Why it is built this way:
- WAL mode with `synchronous=FULL`: a commit is on disk when `commit` returns, so a power cut
  or `kill -9` never loses a state the operator was told about. One write skips the fsync: a
  new transaction's row (`create`), which only says "nothing was sent yet". A process crash
  keeps it (it is in the WAL); a power cut may lose it, which loses nothing, and the next
  durable commit (the signed request, before anything is sent) makes it durable with its
  own. An online sale so costs two fsyncs (request, result), not three.
- A transaction's signed message (its exact bytes, with its `id` and `seq`) is committed in the
  same commit that moves it to `authorising`, before it is sent; a crash after that is resolved
  at start-up from what is on disk (PROTOCOL.md rule 3).
- `seq` is allocated inside that same commit from a counter row, so it is strictly increasing
  and never reused across restarts, whichever process signs.
- Every state change goes through `states.next_state` and appends a history row in the same
  commit; `apply` can move several transactions at once (a refund and its sale) atomically.
- Card data is never stored in clear: only the signed message (whose card data is a JWE the
  terminal cannot open), the masked PAN, the scheme, the AID and a keyed fingerprint. Even the
  JWE is kept only while the message may be sent again (PCI DSS 3.3.1): the commit that moves a
  transaction out of `KEEPS_REQUEST` replaces it with the adapter's redacted record (`redact`),
  with `secure_delete` on and the WAL emptied after, so the old bytes do not linger.

Reports (history, totals, queue status) are in `reports.py`; the store-and-forward queue's
rows live here because they are written in the same commits as transaction states.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from terminal.money import Amount
from terminal.payment.errors import (
    IllegalTransition,
    JournalUnavailable,
    PaymentError,
    UnknownTransaction,
    journal_problem,
    journal_unavailable,
)
from terminal.payment.records import (
    ADDED_COLUMNS,
    JOURNAL_FILE,
    SCHEMA,
    SCHEMA_VERSION,
    Change,
    Clock,
    QueueAnswer,
    QueueItem,
    Signer,
    Transaction,
    check_fields,
    iso,
    parse_iso,
    queue_item_of,
    transaction_of,
    utc_now,
)
from terminal.payment.states import State, next_state
from terminal.security.private import create_private, private_folder, tighten

__all__ = [
    "JOURNAL_FILE",
    "Change",
    "Clock",
    "Journal",
    "QueueItem",
    "Reader",
    "Rows",
    "Signer",
    "Transaction",
    "iso",
    "parse_iso",
    "utc_now",
]


log = logging.getLogger("terminal.payment.journal")

Rows = Callable[[str, tuple[Any, ...]], list[Any]]
"""Reads inside the caller's commit: (sql, params) -> rows."""

KEEPS_REQUEST = frozenset({State.AUTHORISING, State.APPROVED_OFFLINE})
"""States whose stored request may still be sent (retried, or forwarded as an advice); in
every other state its card data is wiped in the commit that gets there."""

ADDED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS transactions_reference ON transactions (reference, type)",
)
"""Indexes added after the first release; created at open, so older journals get them too."""


class Reader:
    """The journal's reads inside an open write unit: a check made here and the write that
    follows are one commit (`Journal.create(guard=...)`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        cursor = self._conn.execute(sql, params)
        cursor.row_factory = sqlite3.Row
        return list(cursor.fetchall())

    def get(self, txn_id: str) -> Transaction:
        rows = self._rows("SELECT * FROM transactions WHERE id = ?", (txn_id,))
        if not rows:
            raise UnknownTransaction(txn_id)
        return transaction_of(rows[0])

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    @property
    def batch_no(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key = 'batch'"))


WAL_TRUNCATE_DELAY_S = 0.5
"""How soon after a commit that wiped card data the WAL is emptied of the old frames."""


class Journal:
    """One SQLite journal file; safe to share between the engine and the forwarder task."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock) -> None:
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
        self.clock = clock
        self.redact: Callable[[bytes], bytes] | None = None
        """The bank adapter's redaction of its stored bytes (`Bank.redact`); the engine sets
        it, and every commit that ends a transaction's need to re-send wipes its card data."""
        self._wiped_in_txn = False
        self._wal_timer: threading.Timer | None = None
        self._closed = False

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path, *, clock: Clock = utc_now) -> Journal:
        """Open (or create) the journal under `data_dir`; raises `JournalUnavailable`."""
        path = Path(data_dir) / JOURNAL_FILE
        try:
            private_folder(path.parent)
            create_private(path)  # SQLite gives -wal and -shm the mode of the main file
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            conn.execute("PRAGMA journal_mode=WAL")
            for companion in ("-wal", "-shm"):  # left loose by an older posterm
                tighten(path.with_name(path.name + companion))
            conn.execute("PRAGMA synchronous=FULL")
            # Overwritten card data must not survive in free pages (PCI DSS 3.3.1).
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(SCHEMA)
            for table, column, kind in ADDED_COLUMNS:
                names = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                if column not in names:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            for index in ADDED_INDEXES:
                conn.execute(index)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('seq', 0), ('batch', 1)")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            conn.execute(
                "INSERT OR IGNORE INTO batches (no, opened_at) VALUES (1, ?)", (iso(clock()),)
            )
        except (OSError, sqlite3.Error) as error:
            raise JournalUnavailable(
                f"The payment journal {path} cannot be opened ({journal_problem(error)}); "
                "no payment can be taken until a technician fixes it."
            ) from None
        return cls(conn, path, clock)

    def close(self) -> None:
        with self._lock:
            self._commit_open()
            if self._wal_timer is not None:  # a wipe's WAL frames must not outlive the process
                self._wal_timer.cancel()
                self._wal_timer = None
                self._truncate_wal()
            self._closed = True
            self._conn.close()

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
            self._wiped_in_txn = False
            self._failed[generation] = journal_unavailable(self.path, error)
            return
        self._committed = generation
        self.commits += 1
        self.syncs += self._txn_durable
        if self._wiped_in_txn:
            self._wiped_in_txn = False
            self._truncate_wal_soon()

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

    # -- the pre-flight check -------------------------------------------------------------
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
            _probe(conn, reserve_bytes)

    # -- transactions ---------------------------------------------------------------------
    def create(
        self,
        txn_id: str,
        type: str,
        amount: Amount,
        *,
        entry: str = "",
        reference: str = "",
        tip: Amount | None = None,
        ref: str = "",
        fields: dict[str, Any] | None = None,
        reserve_bytes: int = 0,
        guard: Callable[[Reader], object] | None = None,
    ) -> Transaction:
        """Insert a transaction in `created` (its first history row in the same commit).

        With `reserve_bytes`, the same commit first proves the journal can grow by that much
        (see `check_writable`). The commit does not wait for an fsync (module doc): a row that
        only says "nothing sent yet" is made durable by the transaction's next commit.

        `guard` checks the journal inside the same `BEGIN IMMEDIATE` commit and raises to
        refuse (nothing is written): two processes cannot both pass it (one void per sale).
        """
        now = iso(self.clock())
        extra = dict(fields or {})
        check_fields(extra)
        if reserve_bytes:
            self.check_free_space(reserve_bytes)
        with self._write(durable=False) as conn:  # see the module doc: nothing was sent yet
            if guard is not None:
                guard(Reader(conn))
            if reserve_bytes:
                _probe(conn, reserve_bytes)
            conn.execute(
                "INSERT INTO transactions (id, type, state, ref, amount, currency, entry, "
                "reference, tip, batch, created_at, updated_at) VALUES "
                "(?, ?, 'created', ?, ?, ?, ?, ?, ?, (SELECT value FROM meta WHERE key='batch'),"
                " ?, ?)",
                (
                    txn_id,
                    type,
                    ref,
                    amount.minor,
                    amount.currency.code,
                    entry,
                    reference,
                    tip.minor if tip else None,
                    now,
                    now,
                ),
            )
            if extra:
                _update(conn, txn_id, extra, now)
            conn.execute(
                "INSERT INTO history (txn_id, from_state, event, to_state, at) "
                "VALUES (?, '', 'create', 'created', ?)",
                (txn_id, now),
            )
        return self.get(txn_id)

    def apply(self, *changes: Change) -> list[State]:
        """Move transactions along their state machines, all in one commit."""
        now = iso(self.clock())
        states = []
        with self._write() as conn:
            for change in changes:
                states.append(self._move(conn, change, now))
        return states

    def sign_and_apply(
        self,
        change: Change,
        sign: Signer,
        *,
        before: tuple[Change, ...] = (),
        also: tuple[Change, ...] = (),
    ) -> bytes:
        """Allocate the next `seq`, sign, store the bytes as the transaction's request and
        apply `change` (normally `send`, after any `before` moves such as `card_read`), all in
        one commit, before anything is sent."""
        with self._write() as conn:
            moment = self.clock()
            for earlier in before:
                self._move(conn, earlier, iso(moment))
            seq = _next_seq(conn)
            body = sign(seq, moment)
            fields = {**change.fields, "seq": seq, "request": body}
            now = iso(moment)
            self._move(conn, Change(change.txn_id, change.event, fields, change.detail), now)
            for other in also:
                self._move(conn, other, now)
        return body

    def enqueue(
        self,
        change: Change,
        kind: str,
        message_id: str,
        amount: Amount,
        sign: Signer,
        *,
        before: tuple[Change, ...] = (),
    ) -> QueueItem:
        """Sign a store-and-forward message (advice or reverse) and commit it to the queue in
        the same commit as `change` (approve_offline or reverse) and any `before` moves."""
        with self._write() as conn:
            qid = self._enqueue(conn, change, kind, message_id, amount, sign, before)
        return self.queue_item(qid)

    def enqueue_unless(
        self,
        objection: Callable[[Rows, datetime], Change | None],
        change: Callable[[], Change],
        kind: str,
        message_id: str,
        amount: Amount,
        sign: Signer,
    ) -> QueueItem | Change:
        """`enqueue` of `change()`, unless `objection` (reading the journal inside the same
        commit) returns a change, which is then applied instead: the queued item, or that
        change.

        The check and the write are one `BEGIN IMMEDIATE` commit holding SQLite's write lock,
        so two processes cannot both pass the last slot of a cap (the offline limits).
        """
        with self._write() as conn:

            def rows(sql: str, params: tuple[Any, ...]) -> list[Any]:
                return list(conn.execute(sql, params).fetchall())

            refusal = objection(rows, self.clock())
            if refusal is not None:
                self._move(conn, refusal, iso(self.clock()))
                return refusal
            qid = self._enqueue(conn, change(), kind, message_id, amount, sign, ())
        return self.queue_item(qid)

    def _enqueue(
        self,
        conn: sqlite3.Connection,
        change: Change,
        kind: str,
        message_id: str,
        amount: Amount,
        sign: Signer,
        before: tuple[Change, ...],
    ) -> int:
        moment = self.clock()
        for earlier in before:
            self._move(conn, earlier, iso(moment))
        seq = _next_seq(conn)
        body = sign(seq, moment)
        now = iso(moment)
        fields = dict(change.fields)
        if kind == "advice":
            fields.update(seq=seq, request=body)
        self._move(conn, Change(change.txn_id, change.event, fields, change.detail), now)
        cursor = conn.execute(
            "INSERT INTO outbox (message_id, kind, txn_id, seq, body, amount, currency, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message_id,
                kind,
                change.txn_id,
                seq,
                body,
                amount.minor,
                amount.currency.code,
                now,
            ),
        )
        qid = cursor.lastrowid
        assert qid is not None
        return qid

    def _move(self, conn: sqlite3.Connection, change: Change, now: str) -> State:
        row = conn.execute(
            "SELECT state FROM transactions WHERE id = ?", (change.txn_id,)
        ).fetchone()
        if row is None:
            raise UnknownTransaction(change.txn_id)
        current = State(row[0])
        target = next_state(change.txn_id, current, change.event)
        check_fields(change.fields)
        _update(conn, change.txn_id, {**change.fields, "state": target.value}, now)
        if target not in KEEPS_REQUEST:
            self._wipe_card_data(conn, change.txn_id)
        conn.execute(
            "INSERT INTO history (txn_id, from_state, event, to_state, at, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (change.txn_id, current.value, change.event.value, target.value, now, change.detail),
        )
        return target

    # -- card data retention -------------------------------------------------------------
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

    def note(self, txn_id: str, message: str) -> None:
        """Replace the operator message of a transaction (not a state change: no history)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE transactions SET message = ?, updated_at = ? WHERE id = ?",
                (message, iso(self.clock()), txn_id),
            )

    def get(self, txn_id: str) -> Transaction:
        rows = self._read("SELECT * FROM transactions WHERE id = ?", (txn_id,))
        if not rows:
            raise UnknownTransaction(txn_id)
        return transaction_of(rows[0])

    def find(
        self, where: str = "1", params: tuple[Any, ...] = (), *, limit: int = -1
    ) -> list[Transaction]:
        """Transactions matching a SQL condition, newest first."""
        rows = self._read(
            f"SELECT * FROM transactions WHERE {where} ORDER BY created_at DESC, rowid DESC "  # noqa: S608
            "LIMIT ?",
            (*params, limit),
        )
        return [transaction_of(row) for row in rows]

    def sales_with_reference(self, reference: str) -> list[Transaction]:
        """Sales carrying exactly this till reference, newest first, over the whole journal.

        An indexed equality lookup (never a substring search): a till retrying "ORD-7" after a
        restart must find ORD-7 however many ORD-70... came after it.
        """
        return self.with_reference(reference, ("sale",))

    def with_reference(self, reference: str, types: tuple[str, ...]) -> list[Transaction]:
        """Transactions of these types carrying exactly this till reference, newest first."""
        if not reference or not types:
            return []
        marks = ", ".join("?" * len(types))
        return self.find(f"reference = ? AND type IN ({marks})", (reference, *types))

    def in_flight(self) -> list[Transaction]:
        """Transactions a crash left between steps, oldest first (start-up recovery)."""
        rows = self._read(
            "SELECT * FROM transactions WHERE state IN ('created', 'card_read', 'authorising', "
            "'unknown') ORDER BY created_at, rowid"
        )
        return [transaction_of(row) for row in rows]

    def history_of(self, txn_id: str) -> list[tuple[str, str, str, str]]:
        """(from_state, event, to_state, at) for one transaction, in order."""
        rows = self._read(
            "SELECT from_state, event, to_state, at FROM history WHERE txn_id = ? ORDER BY n",
            (txn_id,),
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self._read(sql, params)
        return rows[0][0] if rows else None

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._read(sql, params)

    @property
    def last_seq(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key = 'seq'"))

    def next_seq(self) -> int:
        """A `seq` for a message that is not journaled (close_batch): still never reused."""
        with self._write() as conn:
            return _next_seq(conn)

    # -- store-and-forward queue ----------------------------------------------------------
    def pending(
        self, *, include_parked: bool = False, limit: int = -1, after_qid: int = 0
    ) -> list[QueueItem]:
        """Queue items not yet acknowledged, in the order they were committed (those after
        `after_qid` only: the forwarder reads on while earlier ones are in flight)."""
        parked = "" if include_parked else "AND parked = 0"
        rows = self._read(
            f"SELECT * FROM outbox WHERE done_at IS NULL AND qid > ? {parked} "  # noqa: S608
            "ORDER BY qid LIMIT ?",
            (after_qid, limit),
        )
        return [queue_item_of(row) for row in rows]

    def pending_count(self, *, include_parked: bool = False) -> int:
        """How many queue items are not yet acknowledged."""
        parked = "" if include_parked else "AND parked = 0"
        return int(self.scalar(f"SELECT COUNT(*) FROM outbox WHERE done_at IS NULL {parked}"))  # noqa: S608

    def queue_item(self, qid: int) -> QueueItem:
        rows = self._read("SELECT * FROM outbox WHERE qid = ?", (qid,))
        return queue_item_of(rows[0])

    def queue_done_many(
        self, answers: Sequence[QueueAnswer]
    ) -> list[bool | PaymentError | ValueError]:
        """The gateway answered queued messages: mark them done and move their transactions,
        in one commit (one fsync for a forwarder window).

        Each answer is its own savepoint: one whose change the state machine refuses is undone
        alone and comes back as its exception. False when another process got there first
        (both sent the same bytes, which the gateway answers once): nothing changes twice.
        """
        now = iso(self.clock())
        outcomes: list[bool | PaymentError | ValueError] = []
        with self._write() as conn:
            for answer in answers:
                conn.execute("SAVEPOINT answer")
                try:
                    cursor = conn.execute(
                        "UPDATE outbox SET done_at = ?, result = ?, code = ?, "
                        "attempts = attempts + 1, last_attempt_at = ? "
                        "WHERE qid = ? AND done_at IS NULL",
                        (now, answer.result, answer.code, now, answer.item.qid),
                    )
                    done = cursor.rowcount > 0
                    if done:
                        self._move(conn, answer.change, now)
                        for other in answer.also:
                            self._move(conn, other, now)
                except (IllegalTransition, UnknownTransaction, ValueError) as refused:
                    conn.execute("ROLLBACK TO answer")
                    outcomes.append(refused)
                else:
                    outcomes.append(done)
                conn.execute("RELEASE answer")
        return outcomes

    def queue_failed(self, item: QueueItem, error: str, *, park: bool = False) -> None:
        """A forwarding attempt failed; `park` stops retries (the gateway refused the bytes)."""
        now = iso(self.clock())
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, last_attempt_at = ?, "
                "parked = parked OR ? WHERE qid = ?",
                (error, now, 1 if park else 0, item.qid),
            )

    # -- batches --------------------------------------------------------------------------
    @property
    def batch_no(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key = 'batch'"))

    def store_close(self, message_id: str, terminal_totals: str, sign: Signer) -> bytes:
        """Sign the close_batch and keep it with the open batch before it is sent, so a close
        whose answer was lost is re-sent with the same id (the gateway closes a batch once)."""
        with self._write() as conn:
            moment = self.clock()
            body = sign(_next_seq(conn), moment)
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


def _probe(conn: sqlite3.Connection, reserve_bytes: int) -> None:
    """Make the file grow by the reserve and give it back, inside the caller's commit."""
    conn.execute("CREATE TABLE IF NOT EXISTS reserve_probe (b BLOB)")
    conn.execute("INSERT INTO reserve_probe VALUES (zeroblob(?))", (min(reserve_bytes, 1 << 20),))
    conn.execute("DELETE FROM reserve_probe")


def _next_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value"
    ).fetchone()
    return int(row[0])


def _update(conn: sqlite3.Connection, txn_id: str, fields: dict[str, Any], now: str) -> None:
    columns = ", ".join(f"{name} = ?" for name in fields)
    values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
    conn.execute(
        f"UPDATE transactions SET {columns}, updated_at = ? WHERE id = ?",  # noqa: S608
        (*values, now, txn_id),
    )
