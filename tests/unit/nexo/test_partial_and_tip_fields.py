"""What a nexo PaymentRequest says about partial authorisation and tips, and how a partial
approval is answered: the parsing rules and the response body, without a terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest

from terminal.iso_codes import currency
from terminal.money import Amount
from terminal.nexo.answers import payment_response
from terminal.nexo.errors import MessageFormat, NexoRefusal
from terminal.nexo.messages import parse_payment, tender_options
from terminal.nexo.status import outcome_of
from terminal.payment.api import Outcome, Result, TransactionView
from terminal.settings import Settings

EUR = currency("EUR")


def eur(text: str) -> Amount:
    return Amount.parse(text, "EUR")


def body(
    amounts: dict[str, Any] | None = None,
    conditions: Any = None,
    acquirer: Any = None,
    payment_type: str = "Normal",
) -> dict[str, Any]:
    sale: dict[str, Any] = {
        "SaleTransactionID": {"TransactionID": "T-1", "TimeStamp": "2026-12-07T10:00:00Z"}
    }
    if acquirer is not None:
        sale["SaleToAcquirerData"] = acquirer
    transaction: dict[str, Any] = {
        "AmountsReq": amounts or {"Currency": "EUR", "RequestedAmount": 50}
    }
    if conditions is not None:
        transaction["TransactionConditions"] = conditions
    return {
        "SaleData": sale,
        "PaymentTransaction": transaction,
        "PaymentData": {"PaymentType": payment_type},
    }


def test_allow_partial_from_transaction_conditions_or_the_adyen_tender_option() -> None:
    assert not parse_payment(body(), EUR).allow_partial
    flag = {"AllowPartialAuthorisation": True}
    assert parse_payment(body(conditions=flag), EUR).allow_partial
    off = {"AllowPartialAuthorisation": False, "ForceOnlineFlag": True}
    assert not parse_payment(body(conditions=off), EUR).allow_partial
    option = "tenderOption=ReceiptHandler,AllowPartialAuthorisation"
    assert parse_payment(body(acquirer=option), EUR).allow_partial
    as_object = {"tenderOption": "AllowPartialAuthorisation"}
    assert parse_payment(body(acquirer=as_object), EUR).allow_partial
    assert not parse_payment(body(acquirer="tenderOption=ReceiptHandler"), EUR).allow_partial


def test_tender_options_of_odd_acquirer_data_are_none() -> None:
    assert tender_options("not key value text") == set()
    assert tender_options("&".join(["a=1"] * 500)) == set()  # too many fields: none read
    assert tender_options({"tenderOption": 5}) == set()
    assert tender_options(None) == set()
    assert tender_options("tenderOption=A&tenderOption=B, C") == {"A", "B", "C"}


@pytest.mark.parametrize("bad", [["x"], "yes", {"AllowPartialAuthorisation": "true"}])
def test_bad_transaction_conditions_name_the_field(bad: Any) -> None:
    with pytest.raises(MessageFormat, match="TransactionConditions"):
        parse_payment(body(conditions=bad), EUR)


def test_partial_authorisation_on_a_refund_is_refused_but_the_tender_option_is_ignored() -> None:
    flag = {"AllowPartialAuthorisation": True}
    with pytest.raises(NexoRefusal, match="not to a refund") as refused:
        parse_payment(body(conditions=flag, payment_type="Refund"), EUR)
    assert refused.value.condition == "NotAllowed"
    option = "tenderOption=AllowPartialAuthorisation"
    call = parse_payment(body(acquirer=option, payment_type="Refund"), EUR)
    assert call.refund and not call.allow_partial


def test_requested_amount_is_the_base_and_the_tip_is_added() -> None:
    call = parse_payment(
        body({"Currency": "EUR", "RequestedAmount": 40, "TipAmount": Decimal("6.50")}), EUR
    )
    assert (call.amount, call.tip) == (eur("46.50"), eur("6.50"))


def partial_outcome() -> Outcome:
    return Outcome(
        "T1",
        Result.APPROVED,
        eur("50.00"),
        "nfc",
        code="10",
        auth_code="A1",
        masked_pan="476173******0119",
        message="Approved: the card paid EUR 30.00 of EUR 50.00.",
        approved_amount=eur("30.00"),
        remaining_amount=eur("20.00"),
    )


def test_a_partial_approval_answers_partial_with_what_the_card_paid() -> None:
    call = parse_payment(body(conditions={"AllowPartialAuthorisation": True}), EUR)
    answer = payment_response(call, partial_outcome(), None, Settings())
    assert answer["Response"]["Result"] == "Partial"
    extra = parse_qs(answer["Response"]["AdditionalResponse"])
    assert (extra["requestedAmount"], extra["remainingAmount"]) == (["50.00"], ["20.00"])
    assert str(answer["PaymentResult"]["AmountsResp"]["AuthorizedAmount"]) == "30.00"


def test_a_whole_approval_of_a_sale_that_allowed_partial_is_a_success() -> None:
    call = parse_payment(body(conditions={"AllowPartialAuthorisation": True}), EUR)
    whole = Outcome(
        "T2",
        Result.APPROVED,
        eur("50.00"),
        "nfc",
        auth_code="A2",
        masked_pan="476173******0119",
        approved_amount=eur("50.00"),
        remaining_amount=eur("0.00"),
    )
    answer = payment_response(call, whole, None, Settings())
    assert answer["Response"] == {"Result": "Success"}
    assert str(answer["PaymentResult"]["AmountsResp"]["AuthorizedAmount"]) == "50.00"


def test_a_partially_approved_journal_row_is_answered_partial_after_a_restart() -> None:
    view = TransactionView(
        "T1",
        "sale",
        "approved",
        "approved",
        eur("30.00"),
        "nfc",
        "476173******0119",
        datetime.now(UTC),
        auth_code="A1",
        requested=eur("50.00"),
    )
    outcome = outcome_of(view)
    assert outcome is not None
    assert (outcome.amount, outcome.approved_amount, outcome.remaining_amount) == (
        eur("50.00"),
        eur("30.00"),
        eur("20.00"),
    )
