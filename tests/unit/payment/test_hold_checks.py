"""What the journal allows on a pre-authorisation before anything is sent (`check_hold`), and
how an answer moves the hold (`hold_moves`), on a real journal file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.money import Amount
from terminal.payment.errors import HoldNotAllowed, UnknownTransaction
from terminal.payment.hold_moves import hold_moves
from terminal.payment.holds import check_hold
from terminal.payment.journal import Change, Journal
from terminal.payment.states import Event, State

HOLD = "11111111-1111-4111-8111-111111111111"


def eur(text: str) -> Amount:
    return Amount.parse(text, "EUR")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal.open(tmp_path / "data")
    yield opened
    opened.close()


def held(journal: Journal, txn_id: str = HOLD, amount: str = "100.00") -> None:
    journal.create(txn_id, "preauth", eur(amount), entry="nfc", fields={"held": eur(amount).minor})
    journal.sign_and_apply(Change(txn_id, Event.SEND), lambda seq, at: b"signed")
    journal.apply(Change(txn_id, Event.HOLD, {"auth_code": "A1"}))


def test_a_capture_defaults_to_all_that_is_held_and_adds_the_tip(journal: Journal) -> None:
    held(journal)
    assert check_hold(journal, "capture", HOLD).amount == eur("100.00")
    action = check_hold(journal, "capture", HOLD, eur("90.00"), eur("8.00"))
    assert (action.amount, action.tip) == (eur("98.00"), eur("8.00"))


@pytest.mark.parametrize(
    ("kind", "amount", "tip", "words"),
    [
        ("capture", None, Amount.of(-1, "EUR"), "cannot be negative"),
        ("capture", Amount.parse("10.00", "USD"), None, "must be too, not USD"),
        ("capture", None, Amount.parse("1.00", "USD"), "the tip must be too"),
        ("capture", eur("0.00"), None, "more than zero"),
        ("increment", eur("0.00"), None, "more than zero"),
        ("increment", None, None, "more than zero"),
        ("increment", eur("5.00"), eur("1.00"), "Only a capture carries a tip"),
    ],
)
def test_bad_requests_are_refused_with_a_sentence(
    journal: Journal, kind: str, amount: Amount | None, tip: Amount | None, words: str
) -> None:
    held(journal)
    with pytest.raises(HoldNotAllowed, match=words) as refused:
        check_hold(journal, kind, HOLD, amount, tip)  # type: ignore[arg-type]
    assert refused.value.exit_code == 2
    assert refused.value.sentence.endswith("Nothing was sent.")


def test_unknown_ids_and_sales_are_not_holds(journal: Journal) -> None:
    with pytest.raises(UnknownTransaction):
        check_hold(journal, "capture", "no-such-id")
    journal.create("22222222-2222-4222-8222-222222222222", "sale", eur("5.00"))
    with pytest.raises(HoldNotAllowed, match="not a pre-authorisation"):
        check_hold(journal, "capture", "22222222-2222-4222-8222-222222222222")


def test_one_operation_on_a_hold_at_a_time(journal: Journal) -> None:
    held(journal)
    capture = "33333333-3333-4333-8333-333333333333"
    journal.create(capture, "capture", eur("100.00"), ref=HOLD)
    with pytest.raises(HoldNotAllowed, match="already under way"):
        check_hold(journal, "preauth_cancel", HOLD)


def test_a_captured_hold_moves_once_and_then_refuses_everything(journal: Journal) -> None:
    held(journal)
    increment = "44444444-4444-4444-8444-444444444444"
    journal.create(increment, "increment", eur("20.00"), ref=HOLD)
    journal.apply(*hold_moves(journal, journal.get(increment), "approved"))
    assert journal.get(HOLD).state is State.INCREMENTED
    assert journal.get(HOLD).held == eur("120.00")
    capture = "55555555-5555-4555-8555-555555555555"
    journal.create(capture, "capture", eur("118.00"), ref=HOLD, tip=eur("8.00"))
    journal.apply(*hold_moves(journal, journal.get(capture), "approved"))
    hold = journal.get(HOLD)
    assert (hold.state, hold.captured) == (State.CAPTURED, eur("118.00"))
    assert hold_moves(journal, journal.get(capture), "approved") == ()  # a late repeat: no move
    for kind in ("increment", "capture", "preauth_cancel"):
        with pytest.raises(HoldNotAllowed, match="is captured"):
            check_hold(journal, kind, HOLD, eur("1.00") if kind == "increment" else None)  # type: ignore[arg-type]


def test_an_expired_answer_marks_the_hold_expired(journal: Journal) -> None:
    held(journal)
    capture = "66666666-6666-4666-8666-666666666666"
    journal.create(capture, "capture", eur("50.00"), ref=HOLD)
    journal.apply(*hold_moves(journal, journal.get(capture), "expired"))
    assert journal.get(HOLD).state is State.EXPIRED
