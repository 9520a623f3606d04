"""The state machine: declared edges move, everything else raises."""

from __future__ import annotations

import pytest

from terminal.payment.errors import IllegalTransition
from terminal.payment.states import FINAL, TRANSITIONS, Event, State, next_state


def test_a_sale_walks_from_created_to_approved() -> None:
    state = State.CREATED
    for event in (Event.CARD_READ, Event.SEND, Event.APPROVE):
        state = next_state("t1", state, event)
    assert state is State.APPROVED


def test_an_unanswered_sale_ends_reversed() -> None:
    state = State.AUTHORISING
    for event in (Event.NO_ANSWER, Event.REVERSE, Event.REVERSAL_DONE):
        state = next_state("t1", state, event)
    assert state is State.REVERSED


def test_an_offline_sale_is_forwarded_or_declined_later() -> None:
    offline = next_state("t1", State.AUTHORISING, Event.APPROVE_OFFLINE)
    assert next_state("t1", offline, Event.FORWARD_ACCEPTED) is State.FORWARDED
    assert next_state("t1", offline, Event.FORWARD_DECLINED) is State.DECLINED_AFTER_FORWARD


def test_approving_a_declined_sale_raises_with_a_sentence() -> None:
    with pytest.raises(IllegalTransition) as raised:
        next_state("t9", State.DECLINED, Event.APPROVE)
    assert raised.value.sentence == "Transaction t9 is declined; it cannot take the step 'approve'."
    assert raised.value.exit_code == 3


def test_a_state_the_table_does_not_know_raises() -> None:
    with pytest.raises(IllegalTransition):
        next_state("t1", "teleported", Event.APPROVE)


@pytest.mark.parametrize("state", sorted(FINAL))
def test_no_event_leaves_a_final_state(state: State) -> None:
    for event in Event:
        with pytest.raises(IllegalTransition):
            next_state("t1", state, event)


def test_every_state_but_created_is_reachable() -> None:
    reachable = {State.CREATED} | set(TRANSITIONS.values())
    assert reachable == set(State)


def test_a_voided_sale_cannot_be_refunded_and_a_refunded_one_cannot_be_voided() -> None:
    with pytest.raises(IllegalTransition):
        next_state("t1", State.VOIDED, Event.REFUND_PART)
    with pytest.raises(IllegalTransition):
        next_state("t1", State.PARTIALLY_REFUNDED, Event.VOID)
