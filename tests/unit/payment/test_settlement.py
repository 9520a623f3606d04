"""The settlement table, row by row: for every operation and every way a delivery can end,
what happens next, the state event, the operator's result, the ISO code and the sentence.

The expectations are written out here by hand (not derived from the table), so a changed row
shows up as a failing case naming the operation and the ending."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from terminal.money import Amount
from terminal.payment.api import Result
from terminal.payment.bank import (
    Answered,
    Delivery,
    LocalFault,
    NoAnswer,
    NotSent,
    Refused,
    Reply,
)
from terminal.payment.settlement import (
    TABLE,
    Facts,
    Name,
    Then,
    classify,
    ending_of,
    journal_fields,
)
from terminal.payment.states import Event

ANSWERS = (
    "approved",
    "declined",
    "pending",
    "expired",
    "reversed",
    "balanced",
    "out_of_balance",
    "partial",
)
NOT_ANSWERED = (
    "not_sent",
    "untrusted",
    "no_answer",
    "refused",
    "refused_transient",
    "local_fault",
)
ENDINGS = ANSWERS + NOT_ANSWERED
DETAIL = "409 id_conflict"
EMFILE = "ran out of file handles (EMFILE)"
FIVE = Amount.parse("5.00", "EUR")
T, E, R = Then, Event, Result


def reply(result: str) -> Reply:
    code = "51" if result == "declined" else "00"
    auth = "A1" if result == "approved" else ""
    return Reply("m1", "authorize", result, code, auth, "", "G1", "", {}, b"jws")


def delivery(ending: str) -> Delivery:
    if ending in ANSWERS:
        return Answered(reply(ending))
    return {
        "not_sent": NotSent(DETAIL),
        "untrusted": NotSent(DETAIL, untrusted=True),
        "no_answer": NoAnswer(DETAIL),
        "refused": Refused(DETAIL, final=True),
        "refused_transient": Refused(DETAIL, final=False),
        "local_fault": LocalFault(EMFILE),
    }[ending]


def local_fault(what: str) -> Expected:
    """The terminal's own failure: an error with code 96, never offline, never a reversal."""
    return (
        T.DONE,
        E.NOT_SENT,
        R.ERROR,
        "96",
        f"The terminal ran out of file handles (EMFILE); nothing was charged and {what} was "
        "not sent to the bank. Restart the terminal or call the technician.",
    )


Expected = tuple[Then, Event | None, Result | None, str, str]
REVERSE: Expected = (T.REVERSE, None, None, "", "")
SALE_REFUSED: Expected = (
    T.DONE,
    E.REJECT,
    R.ERROR,
    "96",
    "The bank refused the message (409 id_conflict); nothing was charged. "
    "Call the technician if this repeats.",
)


def adjustment(kind: str, approved: str) -> dict[str, Expected]:
    refused: Expected = (
        T.DONE,
        E.REJECT,
        R.ERROR,
        "96",
        f"The bank refused the {kind} (409 id_conflict); nothing changed. "
        "Call the technician if this repeats.",
    )
    return {
        "approved": (T.DONE, E.APPROVE, R.APPROVED, "00", approved),
        "reversed": (T.DONE, E.APPROVE, R.APPROVED, "00", approved),
        "declined": (
            T.DONE,
            E.DECLINE,
            R.DECLINED,
            "51",
            f"The bank declined the {kind}: insufficient funds (code 51).",
        ),
        "not_sent": (
            T.DONE,
            E.NOT_SENT,
            R.ERROR,
            "91",
            f"The bank cannot be reached: the {kind} was not sent. Try again later.",
        ),
        "refused": refused,
        "refused_transient": refused,
        "local_fault": local_fault(f"the {kind}"),
    }


def queued(answered: dict[str, Expected], other: Expected) -> dict[str, Expected]:
    rows = {ending: answered.get(ending, other) for ending in ANSWERS}
    rows.update(
        {
            "not_sent": (T.RETRY, None, None, "", "gateway unreachable (409 id_conflict)"),
            "no_answer": (T.RETRY, None, None, "", "no answer from the gateway (409 id_conflict)"),
            "refused": (T.PARK, None, None, "", "refused by the gateway: 409 id_conflict"),
            "refused_transient": (T.RETRY, None, None, "", "gateway error (409 id_conflict)"),
            "local_fault": (T.RETRY, None, None, "", f"local fault ({EMFILE})"),
        }
    )
    return rows


ADVICE_DECLINED = "The bank declined this offline sale when it was forwarded (code {code})."
INTENT_REFUSED: Expected = (
    T.DONE,
    E.REJECT,
    R.ERROR,
    "96",
    "The bank refused the payment request (409 id_conflict); nothing was charged.",
)


def hold_expired(kind: str, event: Event) -> Expected:
    return (
        T.DONE,
        event,
        R.DECLINED,
        "00",
        f"The bank declined the {kind}: the hold expired and was released to the card, so it "
        "can no longer be captured or raised. Take a new payment instead.",
    )


def queued_declined(kind: str) -> Expected:
    return (
        T.DONE,
        E.FORWARD_DECLINED,
        R.DECLINED,
        "51",
        f"The bank declined the {kind}: insufficient funds (code 51).",
    )


OUT_OF_BALANCE = (
    "Batch 7 closed OUT OF BALANCE: the bank's totals differ from the terminal's. "
    "Compare the reports and call the bank."
)


def batch(words: str) -> Expected:
    """Not closed: the batch stays open and the close ends as an error."""
    return (
        T.RETRY,
        None,
        Result.ERROR,
        "",
        f"The batch could not be closed ({words}: 409 id_conflict); it stays open. "
        "Try again later: the same close is sent again.",
    )


EXPECTED: dict[str, dict[str, Expected]] = {
    "sale": {
        "approved": (T.DONE, E.APPROVE, R.APPROVED, "00", "Approved (auth code A1)."),
        "declined": (
            T.DONE,
            E.DECLINE,
            R.DECLINED,
            "51",
            "Declined by the bank: insufficient funds (code 51).",
        ),
        "not_sent": (T.OFFLINE, None, None, "", ""),
        "untrusted": (
            T.DONE,
            E.DECLINE_OFFLINE,
            R.DECLINED,
            "91",
            "SECURITY ALARM: the bank's certificate could not be verified, so nothing was sent "
            "and offline approval is suspended: the card was not charged. Call the technician.",
        ),
        "refused": SALE_REFUSED,
        "refused_transient": SALE_REFUSED,
        "local_fault": local_fault("the payment"),
    },
    "wallet_sale": {},  # filled below: a sale's rows, plus "pending", and never offline
    "refund": adjustment("refund", "Refund of EUR 5.00 approved."),
    "tip_adjust": adjustment("tip_adjust", "Tip adjusted: sale S1 will be charged EUR 5.00."),
    "void": adjustment("void", "Sale S1 voided: EUR 5.00 will not be charged."),
    "qr_intent": {
        "pending": (T.PENDING, None, None, "", ""),
        "declined": (
            T.DONE,
            E.DECLINE,
            R.DECLINED,
            "51",
            "The bank refused the payment request: insufficient funds (code 51).",
        ),
        "not_sent": (
            T.DONE,
            E.DECLINE_OFFLINE,
            R.DECLINED,
            "91",
            "The bank cannot be reached and QR payments are never approved offline: "
            "ask the customer to pay by card.",
        ),
        "refused": INTENT_REFUSED,
        "refused_transient": INTENT_REFUSED,
        "local_fault": local_fault("the payment"),
    },
    "qr_status": {
        **{ending: (T.PENDING, None, None, "", "") for ending in ANSWERS},
        **{ending: (T.SILENT, None, None, "", "") for ending in NOT_ANSWERED},
        "approved": (T.DONE, E.APPROVE, R.APPROVED, "00", "Approved (auth code A1)."),
        "declined": (
            T.DONE,
            E.DECLINE,
            R.DECLINED,
            "51",
            "Declined by the bank: insufficient funds (code 51).",
        ),
        "expired": (T.DONE, E.DECLINE, R.DECLINED, "00", "The code expired before it was paid."),
    },
    "qr_withdraw": {
        "approved": (
            T.DONE,
            E.WITHDRAW,
            R.CANCELLED,
            "",
            "Cancelled by the operator. Nothing was charged.",
        ),
    },
    "advice": queued(
        {"approved": (T.DONE, E.FORWARD_ACCEPTED, R.APPROVED, "00", "")},
        (T.DONE, E.FORWARD_DECLINED, R.DECLINED, "00", ADVICE_DECLINED),
    ),
    "tip_adjust_queued": queued(
        {"approved": (T.DONE, E.FORWARD_ACCEPTED, R.APPROVED, "00", "")},
        (
            T.DONE,
            E.FORWARD_DECLINED,
            R.DECLINED,
            "00",
            "The bank declined the tip adjust when it was forwarded (code {code}); the sale "
            "keeps its total from before.",
        ),
    ),
    "reverse": queued(
        {
            "approved": (T.DONE, E.REVERSAL_DONE, R.APPROVED, "00", ""),
            "reversed": (T.DONE, E.REVERSAL_DONE, R.APPROVED, "00", ""),
        },
        (T.PARK, None, None, "", "answered {result} ({code} )"),
    ),
    "preauth": {
        "approved": (
            T.DONE,
            E.HOLD,
            R.APPROVED,
            "00",
            "Pre-authorisation approved (auth code A1): EUR 5.00 is held on the card, not charged.",
        ),
        "declined": (
            T.DONE,
            E.DECLINE,
            R.DECLINED,
            "51",
            "Declined by the bank: insufficient funds (code 51).",
        ),
        "not_sent": (
            T.DONE,
            E.DECLINE_OFFLINE,
            R.DECLINED,
            "91",
            "The bank cannot be reached and a pre-authorisation is never approved offline: "
            "nothing is held on the card. Try again when the bank is reachable.",
        ),
        "untrusted": (
            T.DONE,
            E.DECLINE_OFFLINE,
            R.DECLINED,
            "91",
            "SECURITY ALARM: the bank's certificate could not be verified, so nothing was sent "
            "and offline approval is suspended: the card was not charged. Call the technician.",
        ),
        "refused": SALE_REFUSED,
        "refused_transient": SALE_REFUSED,
        "local_fault": local_fault("the payment"),
    },
    "increment": {
        **adjustment("increment", "Hold raised by EUR 5.00."),
        "expired": hold_expired("increment", E.DECLINE),
    },
    "capture": queued(
        {
            "approved": (
                T.DONE,
                E.FORWARD_ACCEPTED,
                R.APPROVED,
                "00",
                "Captured EUR 5.00: the hold is now one charge.",
            ),
            "declined": queued_declined("capture"),
            "expired": hold_expired("capture", E.FORWARD_DECLINED),
        },
        (T.PARK, None, None, "", "answered {result} ({code} )"),
    ),
    "preauth_cancel": queued(
        {
            "approved": (
                T.DONE,
                E.FORWARD_ACCEPTED,
                R.APPROVED,
                "00",
                "Pre-authorisation cancelled: the hold is released.",
            ),
            "reversed": (
                T.DONE,
                E.FORWARD_ACCEPTED,
                R.APPROVED,
                "00",
                "Pre-authorisation cancelled: the hold is released.",
            ),
            "declined": queued_declined("preauth_cancel"),
            "expired": hold_expired("preauth_cancel", E.FORWARD_DECLINED),
        },
        (T.PARK, None, None, "", "answered {result} ({code} )"),
    ),
    "close_batch": {  # any answer closes the batch; only "balanced" balances it
        **{ending: (T.DONE, None, None, "", OUT_OF_BALANCE) for ending in ANSWERS},
        "balanced": (T.DONE, None, None, "", "Batch 7 closed and balanced with the bank."),
        "not_sent": batch("not sent"),
        "no_answer": batch("no answer"),
        "refused": batch("refused"),
        "refused_transient": batch("refused"),
        "local_fault": (
            T.RETRY,
            None,
            Result.ERROR,
            "",
            f"The batch could not be closed (local fault: {EMFILE}); it stays open. "
            "Try again later: the same close is sent again.",
        ),
    },
}
"""Per operation, the endings that differ from REVERSE (everything unlisted reverses)."""
EXPECTED["sale_split"] = EXPECTED["sale"]  # its sound partial answer: tested below
EXPECTED["wallet_sale"] = {
    **EXPECTED["sale"],
    "pending": (T.PENDING, None, None, "", ""),
    "not_sent": EXPECTED["qr_intent"]["not_sent"],
}


def expected(name: str, ending: str) -> Expected:
    if ending == "untrusted" and ending not in EXPECTED[name]:
        ending = "not_sent"  # only a sale could go offline: elsewhere it is "not sent"
    row = EXPECTED[name].get(ending, REVERSE)
    code = "51" if ending == "declined" else "00"
    answer_code = code if row[3] == "00" else row[3]  # "00" here: the answer's own code
    return row[0], row[1], row[2], answer_code, row[4].format(code=code, result=ending)


CASES = [(name, ending) for name in get_args(Name) for ending in ENDINGS]


@pytest.mark.parametrize(("name", "ending"), CASES)
def test_every_row_of_the_table(name: Name, ending: str) -> None:
    row, answer, detail = classify(name, delivery(ending))
    facts = Facts(FIVE, name, "S1", "Cancelled by the operator.", detail, answer, batch=7)
    want_then, want_event, want_result, want_code, want_sentence = expected(name, ending)
    code = row.code if row.code is not None else facts.code
    assert (row.then, row.event, row.result) == (want_then, want_event, want_result)
    if row.then is Then.DONE and row.result is not None:
        assert code == want_code
    assert row.say(facts) == want_sentence


def test_an_untrusted_link_goes_offline_only_when_the_setting_allows_it() -> None:
    untrusted = NotSent("certificate not trusted", untrusted=True)
    assert classify("sale", untrusted)[0].then is Then.DONE
    assert classify("sale", untrusted, suspend_untrusted=False)[0].then is Then.OFFLINE
    row = classify("sale", untrusted)[0]
    assert journal_fields(row, Facts())["rule"] == "link_untrusted"


def test_the_table_has_no_row_for_an_unknown_operation_or_ending() -> None:
    names = set(get_args(Name))
    for name, ending in TABLE:
        assert name in names and (ending in ENDINGS or ending == "other_answer"), (name, ending)
    for name in names:  # an answer the operation does not expect always has a row
        assert (name, "other_answer") in TABLE


def test_an_unforeseen_answer_falls_to_the_other_answer_row() -> None:
    strange = Answered(reply("something_new"))
    assert classify("sale", strange)[0].then is Then.REVERSE
    assert classify("advice", strange)[0].event is Event.FORWARD_DECLINED
    assert classify("qr_status", strange)[0].then is Then.PENDING


def test_transaction_operations_never_get_queue_rows_and_the_queue_never_waits() -> None:
    for (name, _), row in TABLE.items():
        if name in ("advice", "reverse", "tip_adjust_queued", "capture", "preauth_cancel"):
            assert row.then in (Then.DONE, Then.PARK, Then.RETRY), name
        elif name != "close_batch":
            assert row.then not in (Then.PARK, Then.RETRY), name
        if row.then is Then.DONE and name != "close_batch":
            assert row.event is not None and row.result is not None, name


@pytest.mark.parametrize(
    ("sent", "ending", "detail"),
    [
        (Answered(reply("approved")), "approved", ""),
        (NotSent("connect timeout"), "not_sent", "connect timeout"),
        (NoAnswer("read timeout"), "no_answer", "read timeout"),
        (Refused("422 stale"), "refused", "422 stale"),
        (Refused("403 http_403", final=False), "refused_transient", "403 http_403"),
    ],
)
def test_each_delivery_kind_names_its_ending(sent: Delivery, ending: str, detail: str) -> None:
    assert ending_of(sent)[0::2] == (ending, detail)


def test_the_journal_keeps_the_answer_fields_each_row_names() -> None:
    def fields(name: Name, ending: str) -> dict[str, Any]:
        row, answer, detail = classify(name, delivery(ending))
        return journal_fields(row, Facts(FIVE, name, "S1", "Why.", detail, answer))

    assert fields("sale", "approved") == {
        "code": "00",
        "auth_code": "A1",
        "gateway_ref": "G1",
        "answer": b"jws",
        "message": "Approved (auth code A1).",
    }
    assert fields("qr_intent", "not_sent")["rule"] == "offline_entry"
    assert fields("sale", "refused") == {"code": "96", "message": SALE_REFUSED[4]}
    assert "auth_code" not in fields("advice", "declined")  # no auth code, none written
    assert fields("advice", "approved")["auth_code"] == "A1"
    assert fields("qr_withdraw", "approved") == {
        "answer": b"jws",
        "message": "Why. Nothing was charged.",
    }


def partial(value: int | None) -> Answered:
    payload = {} if value is None else {"approved_amount": {"value": value, "currency": "EUR"}}
    return Answered(Reply("m1", "authorize", "partial", "10", "A1", "", "G1", "", payload, b"j"))


def test_a_partial_answer_approves_the_part_only_when_the_sale_allowed_it() -> None:
    fifty = Amount.parse("50.00", "EUR")
    row, answer, _ = classify("sale_split", partial(3000), asked=fifty)
    assert (row.then, row.event, row.result) == (T.DONE, E.APPROVE_PARTIAL, R.APPROVED)
    facts = Facts(fifty, "sale", reply=answer)
    assert row.say(facts) == (
        "Partially approved: the card paid EUR 30.00 of EUR 50.00 (auth code A1); "
        "EUR 20.00 is left to pay with another card, a QR code or cash."
    )
    fields = journal_fields(row, facts)
    assert (fields["amount"], fields["requested"], fields["code"]) == (3000, 5000, "10")
    row, answer, _ = classify("sale", partial(3000), asked=fifty)
    assert (row.then, row.event, row.result) == (T.REVERSE_DECLINE, E.PARTIAL_REFUSED, R.DECLINED)
    assert "did not allow a partial approval" in row.say(Facts(fifty, reply=answer))


@pytest.mark.parametrize("value", [None, 0, 5000, 6000])
def test_a_partial_answer_that_cannot_be_trusted_is_reversed(value: int | None) -> None:
    fifty = Amount.parse("50.00", "EUR")
    for name in ("sale", "sale_split"):
        row, _, _ = classify(name, partial(value), asked=fifty)  # type: ignore[arg-type]
        assert row.then is T.REVERSE, (name, value)
