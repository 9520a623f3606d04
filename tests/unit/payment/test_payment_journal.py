"""The journal: durable states with their history, seq never reused, refusals before a card."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from terminal.money import Amount
from terminal.payment.errors import IllegalTransition, JournalUnavailable, UnknownTransaction
from terminal.payment.journal import JOURNAL_FILE, Change, Journal
from terminal.payment.records import QueueAnswer
from terminal.payment.states import Event, State

TEN = Amount.parse("10.00", "EUR")


def signer(kind: str):  # type: ignore[no-untyped-def]
    def sign(seq: int, at: datetime) -> bytes:
        return f"{kind}:{seq}:{at.isoformat()}".encode()

    return sign


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal.open(tmp_path)
    yield j  # type: ignore[misc]
    j.close()


def test_the_journal_is_wal_with_full_sync(journal: Journal) -> None:
    conn = sqlite3.connect(journal.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_each_state_change_writes_a_history_row(journal: Journal) -> None:
    journal.create("s1", "sale", TEN, entry="nfc")
    journal.apply(Change("s1", Event.CARD_READ, {"masked_pan": "476173******0010"}))
    body = journal.sign_and_apply(Change("s1", Event.SEND), signer("authorize"))
    journal.apply(Change("s1", Event.APPROVE, {"code": "00", "auth_code": "A1B2C3"}))
    txn = journal.get("s1")
    assert txn.state is State.APPROVED
    assert txn.request == body and body.startswith(b"authorize:1:")
    assert (txn.seq, txn.code, txn.masked_pan) == (1, "00", "476173******0010")
    assert [h[:3] for h in journal.history_of("s1")] == [
        ("", "create", "created"),
        ("created", "card_read", "card_read"),
        ("card_read", "send", "authorising"),
        ("authorising", "approve", "approved"),
    ]


def test_an_illegal_event_raises_and_changes_nothing(journal: Journal) -> None:
    journal.create("s1", "sale", TEN)
    with pytest.raises(IllegalTransition):
        journal.apply(Change("s1", Event.APPROVE, {"code": "00"}))
    assert journal.get("s1").state is State.CREATED
    assert journal.get("s1").code == ""
    assert len(journal.history_of("s1")) == 1


def test_moves_in_one_apply_commit_together_or_not_at_all(journal: Journal) -> None:
    journal.create("s1", "sale", TEN)
    journal.create("s2", "sale", TEN)
    with pytest.raises(IllegalTransition):
        journal.apply(Change("s1", Event.CANCEL), Change("s2", Event.APPROVE))
    assert journal.get("s1").state is State.CREATED


def test_unknown_id_is_a_clear_error(journal: Journal) -> None:
    with pytest.raises(UnknownTransaction) as raised:
        journal.get("nope")
    assert "No transaction with id 'nope'" in raised.value.sentence
    assert raised.value.exit_code == 2


def test_seq_is_strictly_increasing_across_restarts(tmp_path: Path) -> None:
    seen = []
    for round_ in range(3):
        journal = Journal.open(tmp_path)
        for n in range(3):
            txn_id = f"s{round_}-{n}"
            journal.create(txn_id, "sale", TEN)
            journal.sign_and_apply(Change(txn_id, Event.SEND), signer("authorize"))
            seen.append(journal.get(txn_id).seq)
        seen.append(journal.next_seq())
        journal.close()
    assert seen == list(range(1, len(seen) + 1))


def test_offline_approval_and_its_advice_commit_together(journal: Journal) -> None:
    journal.create("s1", "sale", TEN, entry="nfc")
    journal.sign_and_apply(Change("s1", Event.SEND), signer("authorize"))
    item = journal.enqueue(
        Change("s1", Event.APPROVE_OFFLINE, {"offline": True}),
        "advice",
        "s1",
        TEN,
        signer("advice"),
    )
    txn = journal.get("s1")
    assert txn.state is State.APPROVED_OFFLINE and txn.offline
    assert txn.request == item.body and item.body.startswith(b"advice:2:")
    assert [i.message_id for i in journal.pending()] == ["s1"]
    accepted = QueueAnswer(item, "approved", "00", Change("s1", Event.FORWARD_ACCEPTED))
    assert journal.queue_done_many([accepted]) == [True]
    assert journal.pending() == []
    assert journal.get("s1").state is State.FORWARDED
    # A second process that forwarded the same bytes does not move the sale twice.
    assert journal.queue_done_many([accepted]) == [False]


def test_a_reversal_is_queued_in_the_same_commit_as_unknown(journal: Journal) -> None:
    journal.create("s1", "sale", TEN)
    journal.sign_and_apply(Change("s1", Event.SEND), signer("authorize"))
    journal.enqueue(
        Change("s1", Event.REVERSE),
        "reverse",
        "r1",
        TEN,
        signer("reverse"),
        before=(Change("s1", Event.NO_ANSWER),),
    )
    assert journal.get("s1").state is State.REVERSING
    assert [(i.kind, i.txn_id) for i in journal.pending()] == [("reverse", "s1")]
    assert [h[2] for h in journal.history_of("s1")][-2:] == ["unknown", "reversing"]


def test_a_parked_item_leaves_the_queue_order_but_stays_visible(journal: Journal) -> None:
    for n in (1, 2):
        journal.create(f"s{n}", "sale", TEN)
        journal.sign_and_apply(Change(f"s{n}", Event.SEND), signer("authorize"))
        journal.enqueue(
            Change(f"s{n}", Event.APPROVE_OFFLINE), "advice", f"s{n}", TEN, signer("advice")
        )
    first = journal.pending()[0]
    journal.queue_failed(first, "409 id_conflict", park=True)
    assert [i.message_id for i in journal.pending()] == ["s2"]
    assert [i.message_id for i in journal.pending(include_parked=True)] == ["s1", "s2"]


def test_nothing_but_journal_columns_can_be_written(journal: Journal) -> None:
    journal.create("s1", "sale", TEN)
    with pytest.raises(ValueError, match="not journal columns"):
        journal.apply(Change("s1", Event.CARD_READ, {"pan": "4761739001010010"}))


def test_too_little_free_space_refuses_before_anything_is_written(journal: Journal) -> None:
    with pytest.raises(JournalUnavailable) as raised:
        journal.check_writable(reserve_bytes=1 << 60)
    assert "disk holding the payment journal is full" in raised.value.sentence
    assert "sale refused before reading the card" in raised.value.sentence


def test_a_journal_that_cannot_grow_is_refused(journal: Journal) -> None:
    journal.check_writable(reserve_bytes=64 * 1024)
    pages = journal._conn.execute("PRAGMA page_count").fetchone()[0]
    journal._conn.execute(f"PRAGMA max_page_count = {pages}")
    # The probe's freed pages are reused, so grow the data first to use them up.
    with pytest.raises(JournalUnavailable) as raised:
        for n in range(1000):
            journal.create(f"s{n}", "sale", TEN, reference="x" * 200)
    assert "the disk is full" in raised.value.sentence
    with pytest.raises(JournalUnavailable):
        journal.check_writable(reserve_bytes=64 * 1024)


def test_a_read_only_journal_is_refused(journal: Journal) -> None:
    journal._conn.execute("PRAGMA query_only = 1")
    with pytest.raises(JournalUnavailable) as raised:
        journal.check_writable(reserve_bytes=1024)
    assert "cannot be written" in raised.value.sentence


def test_a_journal_that_cannot_be_opened_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(JournalUnavailable) as raised:
        Journal.open(blocker)
    assert "cannot be opened" in raised.value.sentence
    assert str(blocker / JOURNAL_FILE) in raised.value.sentence


def test_concurrent_writers_share_commits_and_lose_nothing(journal: Journal) -> None:
    import threading

    def sales(worker: int) -> None:
        for n in range(25):
            txn_id = f"w{worker}-{n}"
            journal.create(txn_id, "sale", TEN)
            journal.sign_and_apply(Change(txn_id, Event.SEND), signer("authorize"))
            journal.apply(Change(txn_id, Event.APPROVE))

    threads = [threading.Thread(target=sales, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = journal.find()
    assert len(rows) == 200 and {t.state for t in rows} == {State.APPROVED}
    assert sorted(t.seq for t in rows) == list(range(1, 201))
    assert journal.scalar("SELECT COUNT(*) FROM history") == 600
    assert journal.commits < 600  # overlapping callers were committed together


def test_a_failing_unit_does_not_undo_its_neighbours(journal: Journal) -> None:
    journal.create("s1", "sale", TEN)
    with pytest.raises(IllegalTransition):
        journal.apply(Change("s1", Event.APPROVE))
    journal.apply(Change("s1", Event.CANCEL))
    reopened = Journal.open(journal.path.parent)
    try:
        assert reopened.get("s1").state is State.CANCELLED
    finally:
        reopened.close()


def _queued(journal: Journal, count: int) -> list:  # type: ignore[type-arg]
    for n in range(1, count + 1):
        journal.create(f"s{n}", "sale", TEN)
        journal.sign_and_apply(Change(f"s{n}", Event.SEND), signer("authorize"))
        journal.enqueue(
            Change(f"s{n}", Event.APPROVE_OFFLINE), "advice", f"s{n}", TEN, signer("advice")
        )
    return journal.pending()


def test_answers_are_recorded_in_one_commit_and_a_refused_one_alone_is_undone(
    journal: Journal,
) -> None:
    first, second, third = _queued(journal, 3)
    journal.apply(Change("s2", Event.FORWARD_ACCEPTED))  # s2 moved meanwhile: refused below
    commits = journal.commits
    outcomes = journal.queue_done_many(
        [
            QueueAnswer(first, "approved", "00", Change("s1", Event.FORWARD_ACCEPTED)),
            QueueAnswer(second, "approved", "00", Change("s2", Event.FORWARD_ACCEPTED)),
            QueueAnswer(third, "declined", "51", Change("s3", Event.FORWARD_DECLINED)),
        ]
    )
    assert journal.commits == commits + 1
    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], IllegalTransition)
    assert [i.message_id for i in journal.pending()] == ["s2"]  # still queued, nothing half-done
    assert journal.get("s1").state is State.FORWARDED
    assert journal.get("s3").state is State.DECLINED_AFTER_FORWARD
    assert journal.pending_count() == 1 and journal.pending_count(include_parked=True) == 1


def test_pending_reads_on_after_the_items_already_in_flight(journal: Journal) -> None:
    items = _queued(journal, 5)
    assert [i.message_id for i in journal.pending(limit=2)] == ["s1", "s2"]
    after = journal.pending(limit=2, after_qid=items[1].qid)
    assert [i.message_id for i in after] == ["s3", "s4"]
    assert journal.pending(after_qid=items[-1].qid) == []
