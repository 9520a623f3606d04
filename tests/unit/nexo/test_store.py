"""The ServiceID store keeps the clear request, also in a store made before it did."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from terminal.nexo.store import CHECKPOINT_EVERY, ServiceStore

OLD_SCHEMA = """
CREATE TABLE services (
    sale_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    category TEXT NOT NULL,
    digest TEXT NOT NULL,
    transaction_id TEXT NOT NULL DEFAULT '',
    response BLOB,
    created_at REAL NOT NULL,
    PRIMARY KEY (sale_id, service_id)
);
"""


def test_a_store_from_before_requests_were_kept_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "nexo.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO services (sale_id, service_id, category, digest, created_at) "
            "VALUES ('TILL-1', 'OLD', 'Payment', 'd0', strftime('%s', 'now'))"
        )
    store = ServiceStore(path)
    old = store.get("TILL-1", "OLD")
    assert old is not None and old.request is None
    assert store.claim("TILL-1", "NEW", "Payment", "d1", b'{"SaleToPOIRequest": {}}') is None
    new = store.get("TILL-1", "NEW")
    assert new is not None and new.request == b'{"SaleToPOIRequest": {}}'
    assert new.created_at > 0
    store.close()


def test_a_checkpoint_puts_the_answers_in_the_database_file_itself(tmp_path: Path) -> None:
    """Writes never checkpoint on their own (they run in the event loop); `checkpoint`, run by
    the door in a worker thread every CHECKPOINT_EVERY answers, copies the WAL into the file."""
    path = tmp_path / "nexo.sqlite"
    store = ServiceStore(path)
    due = []
    for n in range(CHECKPOINT_EVERY):
        store.claim("TILL-1", f"S{n}", "Payment", "d", b"{}")
        store.answer("TILL-1", f"S{n}", b'{"SaleToPOIResponse": {}}', f"T{n}")
        due.append(store.checkpoint_due())
    assert due == [False] * (CHECKPOINT_EVERY - 1) + [True]
    assert rows_in_the_file_alone(path) < CHECKPOINT_EVERY  # still in the WAL
    store.checkpoint()
    assert rows_in_the_file_alone(path) == CHECKPOINT_EVERY
    store.close()


def rows_in_the_file_alone(path: Path) -> int:
    """The answers a copy of the database file holds without its WAL (0: not even the table)."""
    copy = path.with_name("file-only.sqlite")
    copy.write_bytes(path.read_bytes())
    try:
        with sqlite3.connect(copy) as db:
            count: int = db.execute("SELECT COUNT(*) FROM services").fetchone()[0]
            return count
    except sqlite3.OperationalError:
        return 0
    finally:
        copy.unlink()
