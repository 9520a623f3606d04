"""Partial approval and tips over nexo, played by the official Adyen Node.js library against
`posterm serve` and the real gateway simulator: the prepaid card's issuer approves part of a
sale, the answer says "Partial" with what the card paid, and the simulator's ledger holds
exactly that; a tip reaches the receipt and the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest

from simulators.bank.local import new_card
from tests.integration.nexo.pos import NexoTerminal, body, needs_node, payment

pytestmark = needs_node


@pytest.fixture(scope="module")
def nexo_terminal(
    gateway_sim_module: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NexoTerminal]:
    terminal = NexoTerminal(gateway_sim_module, tmp_path_factory.mktemp("nexo"), "NEXOPART")
    terminal.start()
    try:
        yield terminal
    finally:
        terminal.stop()


def active(t: NexoTerminal, txn_id: str) -> list[int]:
    """The amounts (minor units) the simulator's ledger still holds for one message id."""
    return [
        int(e["amount"]["value"])
        for e in t.ledger()
        if e["id"] == txn_id and e["state"] == "active"
    ]


def receipt_text(answer: dict[str, Any], qualifier: str) -> list[str]:
    [receipt] = [r for r in answer["PaymentReceipt"] if r["DocumentQualifier"] == qualifier]
    return [line["Text"] for line in receipt["OutputContent"]["OutputText"]]


def test_prepaid_card_pays_part_when_the_pos_allows_partial_authorisation(
    nexo_terminal: NexoTerminal,
) -> None:
    t = nexo_terminal
    prepaid = new_card(t.sim, "30.00", like="prepaid")
    tap = t.tap(prepaid)
    sale = payment(t.poi_id, "50.00", tender_options="ReceiptHandler,AllowPartialAuthorisation")
    [result] = t.client([{"name": "sale", "request": sale}])
    tap.join(timeout=30)
    answer = body(result, "Payment")
    assert answer["Response"]["Result"] == "Partial", answer
    assert "ErrorCondition" not in answer["Response"]
    extra = parse_qs(answer["Response"]["AdditionalResponse"])
    assert extra["requestedAmount"] == ["50.00"]
    assert extra["remainingAmount"] == ["20.00"]
    assert "paid EUR 30.00 of EUR 50.00" in extra["message"][0]
    paid = answer["PaymentResult"]
    assert Decimal(str(paid["AmountsResp"]["AuthorizedAmount"])) == Decimal("30.00")
    assert paid["PaymentAcquirerData"]["ApprovalCode"]
    customer = receipt_text(answer, "CustomerReceipt")
    assert "PARTIAL APPROVAL" in " ".join(customer), customer
    assert any(line.startswith("Left to pay") and line.endswith("20.00") for line in customer)
    txn_id = answer["POIData"]["POITransactionID"]["TransactionID"]
    assert active(t, txn_id) == [3000]
    assert t.sim.card(prepaid)["balance"]["value"] == 0


def test_a_partial_answer_without_the_option_is_reversed_and_refused(
    nexo_terminal: NexoTerminal,
) -> None:
    t = nexo_terminal
    card = new_card(t.sim, "30.00", like="prepaid-always-partial")
    tap = t.tap(card)
    [result] = t.client([{"name": "sale", "request": payment(t.poi_id, "50.00")}])
    tap.join(timeout=30)
    answer = body(result, "Payment")
    assert answer["Response"]["Result"] == "Failure", answer
    assert answer["Response"]["ErrorCondition"] == "Refusal"
    extra = parse_qs(answer["Response"]["AdditionalResponse"])
    assert extra["refusalReason"] == ["10"]
    assert "did not allow a partial approval" in extra["message"][0]
    assert Decimal(str(answer["PaymentResult"]["AmountsResp"]["AuthorizedAmount"])) == 0
    txn_id = answer["POIData"]["POITransactionID"]["TransactionID"]
    assert active(t, txn_id) == []  # the issuer's 30.00 was reversed
    reversals = [e for e in t.ledger() if e["type"] == "reverse" and e["ref"] == txn_id]
    assert [r["amount"]["value"] for r in reversals] == [3000]
    assert t.sim.card(card)["balance"]["value"] == 3000


def test_tip_amount_is_on_the_receipt_and_in_the_charge(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    tap = t.tap()
    [result] = t.client([{"name": "sale", "request": payment(t.poi_id, "40.00", tip="6.50")}])
    tap.join(timeout=30)
    answer = body(result, "Payment")
    assert answer["Response"]["Result"] == "Success", answer
    amounts = answer["PaymentResult"]["AmountsResp"]
    assert Decimal(str(amounts["AuthorizedAmount"])) == Decimal("46.50")
    assert Decimal(str(amounts["TipAmount"])) == Decimal("6.50")
    for qualifier in ("CashierReceipt", "CustomerReceipt"):
        lines = receipt_text(answer, qualifier)
        tip_lines = [line for line in lines if line.startswith("Tip")]
        assert len(tip_lines) == 1 and tip_lines[0].endswith("6.50"), lines
        assert any(line.startswith("Amount") and line.endswith("40.00") for line in lines), lines
        assert any(line.startswith("TOTAL") and line.endswith("46.50") for line in lines), lines
    txn_id = answer["POIData"]["POITransactionID"]["TransactionID"]
    assert active(t, txn_id) == [4650]
