"""The journal keeps what a receipt needs from the card (application label, cryptogram type,
CVM) beside the masked PAN, also in a journal an older posterm created without those columns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from terminal.money import Amount
from terminal.payment.journal import JOURNAL_FILE, Change, Journal
from terminal.payment.reports import view
from terminal.payment.states import Event

FIVE_HUNDRED_YEN = Amount.of(500, "JPY")
CARD = {
    "masked_pan": "476173******2012",
    "scheme": "visa",
    "aid": "A0000000031010",
    "label": "VISA CREDIT",
    "cryptogram_type": "ARQC",
    "cvm": "no_cvm",
}


def test_a_card_read_keeps_the_receipt_facts(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    try:
        journal.create("s1", "sale", FIVE_HUNDRED_YEN, entry="nfc")
        journal.apply(Change("s1", Event.CARD_READ, CARD))
        shown = view(journal.get("s1")).to_json()
    finally:
        journal.close()
    assert {key: shown[key] for key in CARD} == CARD
    assert shown["amount"] == {"value": 500, "currency": "JPY"}


def test_an_older_journal_gains_the_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    journal.create("old", "sale", FIVE_HUNDRED_YEN, entry="nfc")
    journal.close()
    conn = sqlite3.connect(tmp_path / JOURNAL_FILE)
    for column in ("label", "cryptogram_type", "cvm"):  # as a journal from before them
        conn.execute(f"ALTER TABLE transactions DROP COLUMN {column}")
    conn.commit()
    conn.close()

    journal = Journal.open(tmp_path)
    try:
        old = view(journal.get("old"))
        assert (old.label, old.cryptogram_type, old.cvm) == ("", "", "")
        assert old.amount == FIVE_HUNDRED_YEN
        journal.create("new", "sale", FIVE_HUNDRED_YEN, entry="nfc")
        journal.apply(Change("new", Event.CARD_READ, CARD))
        assert view(journal.get("new")).cvm == "no_cvm"
    finally:
        journal.close()
