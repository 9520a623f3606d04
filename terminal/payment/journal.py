"""The journal: the terminal's durable memory of every payment, in one SQLite file.

Why it is built this way:
- Every commit is on disk when the call returns (group commit, `group_commit.py`), so a power
  cut or `kill -9` never loses a state the operator was told about. One write skips the fsync: a
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
  with `secure_delete` on and the WAL emptied after, so the old bytes do not linger
  (`card_wipe.py`).

`Journal` is built on `GroupCommit` (the connection and its commits), `CardDataWipe`,
`BatchRecords` (`batches.py`: the batches table and the close_batch message) and
`DiskReserve` (`disk_reserve.py`: refusing a sale the disk could not record). Reports
(history, totals, queue status) are in `reports.py`; the store-and-forward queue's rows live
here because they are written in the same commits as transaction states.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from terminal.money import Amount
from terminal.payment.batches import BatchRecords
from terminal.payment.card_wipe import KEEPS_REQUEST, WAL_TRUNCATE_DELAY_S, CardDataWipe
from terminal.payment.disk_reserve import DiskReserve, probe
from terminal.payment.errors import (
    IllegalTransition,
    JournalUnavailable,
    PaymentError,
    UnknownTransaction,
    journal_problem,
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
    next_seq,
    parse_iso,
    queue_item_of,
    transaction_of,
    utc_now,
)
from terminal.payment.states import State, next_state
from terminal.security.private import create_private, private_folder, tighten

__all__ = [
    "JOURNAL_FILE",
    "KEEPS_REQUEST",
    "WAL_TRUNCATE_DELAY_S",
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


Rows = Callable[[str, tuple[Any, ...]], list[Any]]
"""Reads inside the caller's commit: (sql, params) -> rows."""

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


class Journal(CardDataWipe, BatchRecords, DiskReserve):
    """One SQLite journal file; safe to share between the engine and the forwarder task."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock) -> None:
        super().__init__(conn, path)
        self.clock = clock

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
                probe(conn, reserve_bytes)
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
            seq = next_seq(conn)
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
        seq = next_seq(conn)
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

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._read(sql, params)

    @property
    def last_seq(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key = 'seq'"))

    def next_seq(self) -> int:
        """A `seq` for a message that is not journaled (close_batch): still never reused."""
        with self._write() as conn:
            return next_seq(conn)

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


def _update(conn: sqlite3.Connection, txn_id: str, fields: dict[str, Any], now: str) -> None:
    columns = ", ".join(f"{name} = ?" for name in fields)
    values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
    conn.execute(
        f"UPDATE transactions SET {columns}, updated_at = ? WHERE id = ?",  # noqa: S608
        (*values, now, txn_id),
    )
