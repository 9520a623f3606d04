"""The STAN counter and the sealed requests at rest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from terminal.iso8583.store import MAX_STAN, Record, Store
from terminal.iso8583.vault import SealError, Vault, is_sealed


def test_stan_counts_from_000001_and_survives_a_restart(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert [store.next_stan() for _ in range(3)] == ["000001", "000002", "000003"]
    store.close()
    assert Store.open(tmp_path).next_stan() == "000004"


def test_stan_wraps_after_999999_to_000001(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.next_stan()
    store.close()
    with sqlite3.connect(tmp_path / "iso8583.db") as db:
        db.execute("UPDATE stan SET last = ?", (MAX_STAN - 1,))
    store = Store.open(tmp_path)
    assert [store.next_stan() for _ in range(3)] == ["999999", "000001", "000002"]


def test_attempts_are_counted_durably(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.keep(Record("m1", "reverse", "0400", "000007", "1207101112", b"sealed"))
    assert store.attempt("m1") == 0
    store.close()
    store = Store.open(tmp_path)
    assert store.attempt("m1") == 1
    store.answered("m1", "RRN1", "A1")
    record = store.get("m1")
    assert record is not None and (record.rrn, record.auth_code, record.attempts) == (
        "RRN1",
        "A1",
        2,
    )
    assert (tmp_path / "iso8583.db").stat().st_mode & 0o777 == 0o600


def test_sealed_requests_open_only_with_the_key_and_their_id() -> None:
    vault = Vault(bytes(32))
    sealed = vault.seal("m1", b"0200 4761731000000010")
    assert is_sealed(sealed) and b"4761731000000010" not in sealed
    assert vault.open("m1", sealed) == b"0200 4761731000000010"
    with pytest.raises(SealError, match="not a sealed"):
        vault.open("m2", sealed)  # it names its message id
    renamed = sealed.replace(b"m1", b"m2", 1)
    with pytest.raises(SealError, match="does not open"):
        vault.open("m2", renamed)  # and is bound to it
    with pytest.raises(SealError, match="does not open"):
        Vault(bytes(range(32))).open("m1", sealed)
    with pytest.raises(SealError, match="not a sealed"):
        vault.open("m1", b"eyJhbGciOi...")
