"""The nexo door in-process over the in-memory engine: the ServiceID memory and
TransactionStatus while a payment runs, the rules a fast test can pin down."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from terminal.ecr.payments import EcrPayments
from terminal.nexo.door import NexoDoor
from terminal.nexo.messages import parse_request
from terminal.nexo.store import ServiceStore
from terminal.nexo.wire import loads
from terminal.settings import Settings
from tests.ui.memory_engine import MemoryEngine

POIID = "posterm-POSTERM1"


def request(category: str, service_id: str, body: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "SaleToPOIRequest": {
                "MessageHeader": {
                    "ProtocolVersion": "3.0",
                    "MessageClass": "Service",
                    "MessageCategory": category,
                    "MessageType": "Request",
                    "ServiceID": service_id,
                    "SaleID": "TILL-1",
                    "POIID": POIID,
                },
                f"{category}Request": body,
            }
        }
    ).encode()


def sale(amount: float, transaction_id: str = "T-1") -> dict[str, Any]:
    return {
        "SaleData": {
            "SaleTransactionID": {
                "TransactionID": transaction_id,
                "TimeStamp": "2026-12-07T10:00:00Z",
            }
        },
        "PaymentTransaction": {"AmountsReq": {"Currency": "EUR", "RequestedAmount": amount}},
    }


def door(tmp_path: Path) -> tuple[NexoDoor, MemoryEngine]:
    settings = Settings.model_validate(
        {"terminal": {"data_dir": str(tmp_path / "data")}, "nexo": {"enabled": True}}
    )
    engine = MemoryEngine()
    store = ServiceStore(tmp_path / "nexo.sqlite")
    return NexoDoor(settings, engine, EcrPayments(engine), store), engine


def response(answer: Any, category: str) -> dict[str, Any]:
    assert answer.status == 200, answer
    body: dict[str, Any] = json.loads(answer.body)["SaleToPOIResponse"][f"{category}Response"]
    return body


async def test_status_while_running_then_the_outcome_and_a_refused_status_keeps_the_record(
    tmp_path: Path,
) -> None:
    nexo, engine = door(tmp_path)
    paying = asyncio.ensure_future(nexo.handle(request("Payment", "S1", sale(12.5))))
    await asyncio.sleep(0.2)
    status = request("TransactionStatus", "Q1", {"MessageReference": {"ServiceID": "S1"}})
    running = response(await nexo.handle(status), "TransactionStatus")
    assert running["Response"]["ErrorCondition"] == "InProgress"
    # A malformed status request reusing the payment's ServiceID is refused, nothing forgotten.
    bad = request("TransactionStatus", "S1", {"MessageReference": "not an object"})
    assert response(await nexo.handle(bad), "TransactionStatus")["Response"]["Result"] == "Failure"
    engine.tap()
    paid = response(await asyncio.wait_for(paying, 5), "Payment")
    assert paid["Response"]["Result"] == "Success"
    done = response(await nexo.handle(status), "TransactionStatus")
    repeated = done["RepeatedMessageResponse"]["RepeatedResponseMessageBody"]["PaymentResponse"]
    assert repeated == paid
    assert len(engine.requests) == 1


async def test_busy_refusal_lets_the_pos_send_the_same_service_id_again(tmp_path: Path) -> None:
    nexo, engine = door(tmp_path)
    first = asyncio.ensure_future(nexo.handle(request("Payment", "S1", sale(1.0, "A"))))
    await asyncio.sleep(0.2)
    busy = response(await nexo.handle(request("Payment", "S2", sale(2.0, "B"))), "Payment")
    assert busy["Response"]["ErrorCondition"] == "Busy"
    engine.tap()
    assert response(await asyncio.wait_for(first, 5), "Payment")["Response"]["Result"] == "Success"
    second = asyncio.ensure_future(nexo.handle(request("Payment", "S2", sale(2.0, "B"))))
    await asyncio.sleep(0.2)
    engine.tap()
    assert response(await asyncio.wait_for(second, 5), "Payment")["Response"]["Result"] == "Success"
    assert [r.amount.minor for r in engine.requests] == [100, 200]


async def test_a_known_transaction_id_answers_the_approved_sale_instead_of_charging(
    tmp_path: Path,
) -> None:
    nexo, engine = door(tmp_path)
    first = asyncio.ensure_future(nexo.handle(request("Payment", "S1", sale(3.0, "ORD-1"))))
    await asyncio.sleep(0.2)
    engine.tap()
    one = response(await asyncio.wait_for(first, 5), "Payment")
    again = response(
        await asyncio.wait_for(nexo.handle(request("Payment", "S9", sale(3.0, "ORD-1"))), 5),
        "Payment",
    )
    assert (
        again["POIData"]["POITransactionID"]["TransactionID"]
        == (one["POIData"]["POITransactionID"]["TransactionID"])
    )
    other = response(await nexo.handle(request("Payment", "S10", sale(4.0, "ORD-1"))), "Payment")
    assert other["Response"]["ErrorCondition"] == "NotAllowed"
    assert len(engine.requests) == 1


async def test_partial_authorisation_and_tip_reach_the_engines_sale_request(
    tmp_path: Path,
) -> None:
    nexo, engine = door(tmp_path)
    wanted = sale(40.0, "TIP-1")
    wanted["PaymentTransaction"]["AmountsReq"]["TipAmount"] = 6.5
    wanted["PaymentTransaction"]["TransactionConditions"] = {"AllowPartialAuthorisation": True}
    paying = asyncio.ensure_future(nexo.handle(request("Payment", "S1", wanted)))
    await asyncio.sleep(0.2)
    engine.tap()
    paid = response(await asyncio.wait_for(paying, 5), "Payment")
    assert paid["Response"]["Result"] == "Success"
    [asked] = engine.requests
    assert (asked.amount.minor, asked.tip and asked.tip.minor, asked.allow_partial) == (
        4650,
        650,
        True,
    )
    plain = asyncio.ensure_future(nexo.handle(request("Payment", "S2", sale(5.0, "PLAIN"))))
    await asyncio.sleep(0.2)
    engine.tap()
    await asyncio.wait_for(plain, 5)
    assert (engine.requests[1].allow_partial, engine.requests[1].tip) == (False, None)


def restarted(tmp_path: Path, engine: MemoryEngine) -> NexoDoor:
    """A new door over the same store and journal: posterm after a restart."""
    settings = Settings.model_validate(
        {"terminal": {"data_dir": str(tmp_path / "data")}, "nexo": {"enabled": True}}
    )
    store = ServiceStore(tmp_path / "nexo.sqlite")
    return NexoDoor(settings, engine, EcrPayments(engine), store)


async def test_a_payment_killed_before_its_journal_row_is_not_found_then_runs_when_resent(
    tmp_path: Path,
) -> None:
    """posterm recorded the request, then died before the sale's first journal row: nothing was
    charged. Status says so (not InProgress for ever), and the same request sent again runs."""
    nexo, _ = door(tmp_path)
    raw = request("Payment", "S1", sale(7.0, "ORD-7"))
    recorded = parse_request(loads(raw), raw)
    nexo.store.claim("TILL-1", "S1", "Payment", recorded.digest, raw)  # ... and then kill -9
    nexo.store.close()
    engine = MemoryEngine()
    after = restarted(tmp_path, engine)
    status = request("TransactionStatus", "Q1", {"MessageReference": {"ServiceID": "S1"}})
    answer = response(await after.handle(status), "TransactionStatus")
    assert answer["Response"]["Result"] == "Failure"
    assert answer["Response"]["ErrorCondition"] == "NotFound"
    assert "nothing+was+charged" in answer["Response"]["AdditionalResponse"]
    again = asyncio.ensure_future(after.handle(raw))
    await asyncio.sleep(0.2)
    engine.tap()
    paid = response(await asyncio.wait_for(again, 5), "Payment")
    assert paid["Response"]["Result"] == "Success"
    assert [r.amount.minor for r in engine.requests] == [700]


async def test_status_after_a_restart_rebuilds_the_answer_with_the_original_sale_data(
    tmp_path: Path,
) -> None:
    """The sale ended but posterm died before its answer was stored: the status after the
    restart finds the row by the till's TransactionID and echoes the original TimeStamp."""
    nexo, engine = door(tmp_path)
    engine.clock = datetime.now(UTC)  # rows are matched to requests recorded before them
    paying = asyncio.ensure_future(nexo.handle(request("Payment", "S1", sale(9.0, "ORD-9"))))
    await asyncio.sleep(0.2)
    engine.tap()
    paid = response(await asyncio.wait_for(paying, 5), "Payment")
    with sqlite3.connect(tmp_path / "nexo.sqlite") as db:  # as if killed before the answer
        db.execute("UPDATE services SET response = NULL, transaction_id = ''")
    nexo.store.close()
    after = restarted(tmp_path, engine)
    status = request("TransactionStatus", "Q1", {"MessageReference": {"ServiceID": "S1"}})
    answer = response(await after.handle(status), "TransactionStatus")
    assert answer["Response"]["Result"] == "Success", answer
    rebuilt = answer["RepeatedMessageResponse"]["RepeatedResponseMessageBody"]["PaymentResponse"]
    assert rebuilt["SaleData"]["SaleTransactionID"] == {
        "TransactionID": "ORD-9",
        "TimeStamp": "2026-12-07T10:00:00Z",
    }
    assert rebuilt["POIData"]["POITransactionID"] == paid["POIData"]["POITransactionID"]
    assert len(engine.requests) == 1
