"""The ServiceID store keeps the clear request, also in a store made before it did."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from terminal.nexo.store import ServiceStore

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
