"""The journal and the other files posterm keeps under data_dir are for the posterm user only:
masked PANs, card fingerprints and encrypted card blobs are not for other local accounts."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.payment.journal import JOURNAL_FILE, Journal
from terminal.payment.recovery import OwnerLock
from terminal.security.audit import AuditLog
from terminal.security.keystore import Keystore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask of most shells and services: files 0644 and folders 0755 unless asked."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def journal_files(data_dir: Path) -> list[Path]:
    return [data_dir / f"{JOURNAL_FILE}{suffix}" for suffix in ("", "-wal", "-shm")]


def test_a_new_journal_is_private_in_a_private_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "var" / "posterm"
    journal = Journal.open(data_dir)
    try:
        journal.next_seq()  # a write: the WAL file and its index exist now
        files = journal_files(data_dir)
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(data_dir) == 0o700
    finally:
        journal.close()


def test_an_existing_loose_journal_is_tightened_once_and_keeps_its_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal.open(tmp_path)
    seq = journal.next_seq()
    journal.close()
    older = sqlite3.connect(tmp_path / JOURNAL_FILE)  # an older posterm still has it open
    older.execute("PRAGMA journal_mode=WAL")
    older.execute("SELECT count(*) FROM meta").fetchall()
    for file in journal_files(tmp_path):
        os.chmod(file, 0o644)
    caplog.set_level(logging.WARNING, logger="terminal.security.private")
    try:
        for _ in range(2):
            reopened = Journal.open(tmp_path)
            assert reopened.next_seq() == seq + 1
            seq += 1
            reopened.close()
            for file in journal_files(tmp_path):
                assert not file.exists() or mode(file) == 0o600, file
    finally:
        older.close()
    warned = [r.getMessage().split()[0] for r in caplog.records]
    assert str(tmp_path / JOURNAL_FILE) in warned  # named, so the technician knows
    assert len(warned) == len(set(warned))  # once per file, not on every open
    assert all("(mode 644); changed to 600" in r.getMessage() for r in caplog.records)
    assert mode(tmp_path / JOURNAL_FILE) == 0o600


def test_nothing_posterm_writes_under_data_dir_is_readable_by_others(tmp_path: Path) -> None:
    data_dir = tmp_path / "posterm"
    Keystore.open(data_dir, "TERM0001")
    owner = OwnerLock(data_dir)
    owner.acquire()
    Journal.open(data_dir).close()
    AuditLog(data_dir).append("pin.check", {"role": "supervisor"})
    try:
        assert mode(data_dir) == 0o700
        loose = {
            str(path.relative_to(data_dir)): oct(mode(path))
            for path in data_dir.rglob("*")
            if mode(path) & 0o007
        }
        assert loose == {}
    finally:
        owner.release()
