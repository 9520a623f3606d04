"""Pre-authorisation over nexo, played by the official Adyen Node.js library against
`posterm serve` and the gateway simulator: FirstReservation (card tapped, amount held),
UpdateReservation, Completion with a tip, a ReversalRequest releasing a hold, and references
the journal refuses; the simulator's ledger and holds hold exactly what the answers claim."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.nexo.pos import NexoTerminal, body, message, needs_node, payment

pytestmark = needs_node

WALLET = "wallet-token"
"""A phone wallet (the owner verified on the device): a hold above the contactless CVM limit."""


@pytest.fixture(scope="module")
def nexo_terminal(
    gateway_sim_module: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NexoTerminal]:
    terminal = NexoTerminal(gateway_sim_module, tmp_path_factory.mktemp("resa"), "NEXORES1")
    terminal.start()
    try:
        yield terminal
    finally:
        terminal.stop()


def reservation(
    poi_id: str, payment_type: str, amount: str, *, original: str = "", tip: str = ""
) -> dict[str, Any]:
    """A PaymentRequest of `payment_type`, naming the hold `original` (its POITransactionID)."""
    request = payment(poi_id, amount, payment_type=payment_type)
    transaction = request["SaleToPOIRequest"]["PaymentRequest"]["PaymentTransaction"]
    if original:
        transaction["OriginalPOITransaction"] = {
            "POITransactionID": {"TransactionID": original, "TimeStamp": "2026-12-07T10:00:00Z"}
        }
    if tip:
        transaction["AmountsReq"]["TipAmount"] = float(Decimal(tip))
    return request


def release(poi_id: str, hold_id: str) -> dict[str, Any]:
    return message(
        "Reversal",
        poi_id,
        {
            "OriginalPOITransaction": {"POITransactionID": {"TransactionID": hold_id}},
            "ReversalReason": "MerchantCancel",
        },
    )


def amount(value: Any) -> Decimal:
    return Decimal(str(value))


def first_reservation(t: NexoTerminal, value: str) -> tuple[str, dict[str, Any]]:
    tap = t.tap(WALLET)
    [result] = t.client(
        [{"name": "hold", "request": reservation(t.poi_id, "FirstReservation", value)}]
    )
    tap.join(timeout=30)
    answer = body(result, "Payment")
    assert answer["Response"]["Result"] == "Success", answer
    return answer["POIData"]["POITransactionID"]["TransactionID"], answer


def hold_of(t: NexoTerminal, hold_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [h for h in t.sim.holds(t.terminal_id) if h["id"] == hold_id]
    assert len(found) == 1, found
    return found[0]


def test_hold_raise_and_complete_with_a_tip(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    hold_id, held = first_reservation(t, "100.00")
    result = held["PaymentResult"]
    assert result["PaymentType"] == "FirstReservation"
    assert amount(result["AmountsResp"]["AuthorizedAmount"]) == Decimal("100.00")
    assert result["PaymentAcquirerData"]["ApprovalCode"]
    slips = {r["DocumentQualifier"]: r for r in held["PaymentReceipt"]}
    customer = " ".join(
        line["Text"] for line in slips["CustomerReceipt"]["OutputContent"]["OutputText"]
    )
    assert "PRE-AUTHORISATION: AMOUNT HELD" in customer, customer
    assert hold_of(t, hold_id)["state"] == "held"
    assert not [e for e in t.ledger() if e.get("ref") == hold_id]

    [raised] = t.client(
        [
            {
                "name": "raise",
                "request": reservation(t.poi_id, "UpdateReservation", "20.00", original=hold_id),
            }
        ]
    )
    update = body(raised, "Payment")
    assert update["Response"]["Result"] == "Success", update
    assert update["PaymentResult"]["PaymentType"] == "UpdateReservation"
    assert amount(update["PaymentResult"]["AmountsResp"]["AuthorizedAmount"]) == Decimal("120.00")
    assert hold_of(t, hold_id)["held"] == {"value": 12000, "currency": "EUR"}

    completion_request = reservation(t.poi_id, "Completion", "110.00", original=hold_id, tip="8.00")
    header = completion_request["SaleToPOIRequest"]["MessageHeader"]
    status = message(
        "TransactionStatus",
        t.poi_id,
        {"MessageReference": {"MessageCategory": "Payment", "ServiceID": header["ServiceID"]}},
    )
    completed, asked = t.client(
        [
            {"name": "complete", "request": completion_request},
            {"name": "status", "request": status},
        ]
    )
    completion = body(completed, "Payment")
    repeated = body(asked, "TransactionStatus")["RepeatedMessageResponse"]
    assert repeated["RepeatedResponseMessageBody"]["PaymentResponse"] == completion
    assert completion["Response"]["Result"] == "Success", completion
    paid = completion["PaymentResult"]
    assert paid["PaymentType"] == "Completion"
    assert amount(paid["AmountsResp"]["AuthorizedAmount"]) == Decimal("118.00")
    assert amount(paid["AmountsResp"]["TipAmount"]) == Decimal("8.00")
    assert paid["OnlineFlag"] is True

    charges = [e for e in t.ledger() if e["type"] == "capture" and e.get("ref") == hold_id]
    assert [(e["result"], e["amount"]["value"]) for e in charges] == [("approved", 11800)]
    hold = hold_of(t, hold_id)
    assert hold["state"] == "captured"
    assert hold["captured"] == {"value": 11800, "currency": "EUR"}
    assert not [h for h in t.sim.holds(t.terminal_id) if h["state"] == "held"]

    # The captured hold refuses more, and nothing more reaches the bank.
    before = (t.ledger(), t.sim.holds(t.terminal_id))
    refusals = t.client(
        [
            {
                "name": "again",
                "request": reservation(t.poi_id, "Completion", "5.00", original=hold_id),
            },
            {
                "name": "more",
                "request": reservation(t.poi_id, "UpdateReservation", "5.00", original=hold_id),
            },
        ]
    )
    for refusal in refusals:
        refused = body(refusal, "Payment")["Response"]
        assert (refused["Result"], refused["ErrorCondition"]) == ("Failure", "NotAllowed")
        assert "captured" in refused["AdditionalResponse"], refusal["name"]
    assert (t.ledger(), t.sim.holds(t.terminal_id)) == before


def test_reversal_of_a_hold_releases_it(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    hold_id, _ = first_reservation(t, "50.00")
    [result] = t.client([{"name": "release", "request": release(t.poi_id, hold_id)}])
    answer = body(result, "Reversal")
    assert answer["Response"]["Result"] == "Success", answer
    assert amount(answer["ReversedAmount"]) == Decimal("50.00")
    assert answer["OriginalPOITransaction"]["POITransactionID"]["TransactionID"] == hold_id
    assert hold_of(t, hold_id)["state"] == "released"
    ledger = t.ledger()
    assert not [e for e in ledger if e["type"] == "capture" and e.get("ref") == hold_id]
    # Released: a Completion of it is refused and sends nothing.
    [late] = t.client(
        [
            {
                "name": "late",
                "request": reservation(t.poi_id, "Completion", "50.00", original=hold_id),
            }
        ]
    )
    assert body(late, "Payment")["Response"]["ErrorCondition"] == "NotAllowed"
    assert t.ledger() == ledger


def test_unknown_and_malformed_references_send_nothing(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    before = (t.ledger(), t.sim.holds(t.terminal_id))
    unknown = "0b5d3c1e-0000-4000-8000-000000000000"
    results = {
        r["name"]: r
        for r in t.client(
            [
                {
                    "name": "unknown",
                    "request": reservation(t.poi_id, "Completion", "10.00", original=unknown),
                },
                {
                    "name": "no original",
                    "request": reservation(t.poi_id, "UpdateReservation", "10.00"),
                },
                {
                    "name": "tip on update",
                    "request": reservation(
                        t.poi_id, "UpdateReservation", "10.00", original=unknown, tip="1.00"
                    ),
                },
                {"name": "release unknown", "request": release(t.poi_id, unknown)},
            ]
        )
    }
    missing = body(results["unknown"], "Payment")["Response"]
    assert (missing["Result"], missing["ErrorCondition"]) == ("Failure", "NotFound")
    assert "nothing+was+sent" in missing["AdditionalResponse"]
    for name in ("no original", "tip on update"):
        answer = body(results[name], "Payment")["Response"]
        assert (answer["Result"], answer["ErrorCondition"]) == ("Failure", "MessageFormat"), name
    assert body(results["release unknown"], "Reversal")["Response"]["Result"] == "Failure"
    assert (t.ledger(), t.sim.holds(t.terminal_id)) == before


def test_no_first_reservation_while_the_bank_is_down(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    before = t.sim.holds(t.terminal_id)
    t.sim.faults(down=True)
    try:
        tap = t.tap()
        [result] = t.client(
            [{"name": "hold", "request": reservation(t.poi_id, "FirstReservation", "30.00")}]
        )
        tap.join(timeout=30)
    finally:
        t.sim.faults()
    answer = body(result, "Payment")
    assert answer["Response"]["Result"] == "Failure", answer
    assert "offline" in answer["Response"]["AdditionalResponse"]
    assert t.sim.holds(t.terminal_id) == before


def test_a_replayed_first_reservation_holds_once(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    request = reservation(t.poi_id, "FirstReservation", "12.00")
    tap = t.tap()
    [first] = t.client([{"name": "first", "request": request}])
    tap.join(timeout=30)
    [again] = t.client([{"name": "again", "request": request}])
    assert body(again, "Payment") == body(first, "Payment")
    hold_id = body(first, "Payment")["POIData"]["POITransactionID"]["TransactionID"]
    assert [h["id"] for h in t.sim.holds(t.terminal_id) if h["id"] == hold_id] == [hold_id]


def test_answers_rebuilt_from_the_journal_after_a_restart(nexo_terminal: NexoTerminal) -> None:
    """posterm stopped after the journal recorded the hold and its increment but before their
    answers were stored: TransactionStatus rebuilds them with their PaymentType."""
    t = nexo_terminal
    hold_request = reservation(t.poi_id, "FirstReservation", "30.00")
    tap = t.tap()
    [held] = t.client([{"name": "hold", "request": hold_request}])
    tap.join(timeout=30)
    hold_id = body(held, "Payment")["POIData"]["POITransactionID"]["TransactionID"]
    raise_request = reservation(t.poi_id, "UpdateReservation", "5.00", original=hold_id)
    [raised] = t.client([{"name": "raise", "request": raise_request}])
    assert body(raised, "Payment")["Response"]["Result"] == "Success"
    services = [
        r["SaleToPOIRequest"]["MessageHeader"]["ServiceID"] for r in (hold_request, raise_request)
    ]
    t.stop()
    store = sqlite3.connect(Path(t.config).parent / f"data-{t.terminal_id}" / "nexo.sqlite")
    with store:
        for service_id in services:
            store.execute("UPDATE services SET response = NULL WHERE service_id = ?", (service_id,))
    store.close()
    t.start()
    steps = [
        {
            "name": service_id,
            "request": message(
                "TransactionStatus",
                t.poi_id,
                {"MessageReference": {"MessageCategory": "Payment", "ServiceID": service_id}},
            ),
        }
        for service_id in services
    ]
    rebuilt = [
        body(r, "TransactionStatus")["RepeatedMessageResponse"]["RepeatedResponseMessageBody"][
            "PaymentResponse"
        ]
        for r in t.client(steps)
    ]
    hold, update = (answer["PaymentResult"] for answer in rebuilt)
    assert hold["PaymentType"] == "FirstReservation"
    assert amount(hold["AmountsResp"]["AuthorizedAmount"]) == Decimal("30.00")
    assert update["PaymentType"] == "UpdateReservation"
    assert amount(update["AmountsResp"]["AuthorizedAmount"]) == Decimal("35.00")
    assert rebuilt[0]["POIData"]["POITransactionID"]["TransactionID"] == hold_id


def resent(request: dict[str, Any], transaction_id: str) -> dict[str, Any]:
    """`request` as the official clients re-send it after a timeout: a new ServiceID, the same
    SaleTransactionID.TransactionID."""
    again = json.loads(json.dumps(request))
    message_header = again["SaleToPOIRequest"]["MessageHeader"]
    message_header["ServiceID"] = uuid.uuid4().hex[:10]
    sale = again["SaleToPOIRequest"]["PaymentRequest"]["SaleData"]
    sale["SaleTransactionID"]["TransactionID"] = transaction_id
    return again


def test_a_resent_update_reservation_raises_the_hold_once(nexo_terminal: NexoTerminal) -> None:
    """Issue #17: an UpdateReservation (and a Completion) re-sent under a new ServiceID with the
    same TransactionID is answered with the first outcome; the bank books it once."""
    t = nexo_terminal
    hold_id, _ = first_reservation(t, "80.00")
    update = resent(reservation(t.poi_id, "UpdateReservation", "15.00", original=hold_id), "UR-1")
    first, second = (
        body(r, "Payment")
        for r in t.client(
            [
                {"name": "update", "request": update},
                {"name": "update again", "request": resent(update, "UR-1")},
            ]
        )
    )
    assert first["Response"]["Result"] == "Success", first
    assert second["Response"]["Result"] == "Success", second
    poi_ids = [a["POIData"]["POITransactionID"]["TransactionID"] for a in (first, second)]
    assert poi_ids[0] == poi_ids[1]
    for answer in (first, second):
        assert amount(answer["PaymentResult"]["AmountsResp"]["AuthorizedAmount"]) == Decimal(
            "95.00"
        )
    raises = [e for e in t.ledger() if e["type"] == "increment" and e.get("ref") == hold_id]
    assert [(e["result"], e["amount"]["value"]) for e in raises] == [("approved", 1500)]
    assert hold_of(t, hold_id)["held"] == {"value": 9500, "currency": "EUR"}

    # The same TransactionID for another amount: refused, nothing sent.
    before = (t.ledger(), t.sim.holds(t.terminal_id))
    other = resent(reservation(t.poi_id, "UpdateReservation", "16.00", original=hold_id), "UR-1")
    [refused] = t.client([{"name": "other amount", "request": other}])
    answer = body(refused, "Payment")["Response"]
    assert (answer["Result"], answer["ErrorCondition"]) == ("Failure", "NotAllowed")
    assert (t.ledger(), t.sim.holds(t.terminal_id)) == before

    completion = resent(reservation(t.poi_id, "Completion", "90.00", original=hold_id), "CP-1")
    done, redone = (
        body(r, "Payment")
        for r in t.client(
            [
                {"name": "complete", "request": completion},
                {"name": "complete again", "request": resent(completion, "CP-1")},
            ]
        )
    )
    assert done["Response"]["Result"] == "Success", done
    assert redone["Response"]["Result"] == "Success", redone
    assert redone["POIData"]["POITransactionID"] == done["POIData"]["POITransactionID"]
    charges = [e for e in t.ledger() if e["type"] == "capture" and e.get("ref") == hold_id]
    assert [(e["result"], e["amount"]["value"]) for e in charges] == [("approved", 9000)]
    assert hold_of(t, hold_id)["state"] == "captured"
