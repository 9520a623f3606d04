"""The journal and the settlement were split into modules with one job each; the names callers
import from the old modules still come from there, and are the very objects of their new home."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    ("terminal.payment.journal", "terminal.payment.card_wipe", "KEEPS_REQUEST"),
    ("terminal.payment.journal", "terminal.payment.card_wipe", "WAL_TRUNCATE_DELAY_S"),
    ("terminal.payment.settlement", "terminal.payment.settlement_table", "TABLE"),
    ("terminal.payment.settlement", "terminal.payment.settlement_table", "Name"),
    ("terminal.payment.settlement", "terminal.payment.settlement_table", "Then"),
    ("terminal.payment.settlement", "terminal.payment.settlement_table", "Facts"),
    ("terminal.payment.settlement", "terminal.payment.settlement_table", "Row"),
    ("terminal.payment.settlement", "terminal.payment.settlement_table", "NOT_ANSWERED"),
    ("terminal.payment.settlement", "terminal.payment.settlement_table", "ANSWER"),
    ("terminal.payment.settlement", "terminal.payment.settlement_table", "QUEUED"),
]


@pytest.mark.parametrize(("old", "new", "name"), MOVED)
def test_a_moved_name_is_still_exported_by_its_old_module(old: str, new: str, name: str) -> None:
    old_module = importlib.import_module(old)
    assert name in old_module.__all__
    assert getattr(old_module, name) is getattr(importlib.import_module(new), name)


def test_the_journal_keeps_every_method_it_had() -> None:
    from terminal.payment.journal import Journal

    for method in (
        "check_free_space",
        "check_writable",
        "wipe_card_data",
        "card_data_wiped",
        "flush_wiped",
        "close",
        "scalar",
        "batch_no",
        "store_close",
        "pending_close",
        "close_batch",
        "batch_opened_at",
    ):
        assert hasattr(Journal, method), method
