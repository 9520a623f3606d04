"""nexo response bodies built from the engine's outcomes and journal rows.

A sale answered over nexo carries the same facts the ECR door and the receipt show: result,
ISO response code and sentence (declines), masked PAN, scheme, approval code, and the receipt
lines the printer gets, for the cashier and the customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from terminal.money import Amount
from terminal.nexo.messages import Header, PaymentCall
from terminal.nexo.wire import decimal_of
from terminal.payment.api import Outcome, Result, TransactionView
from terminal.receipts.layout import receipt_lines
from terminal.receipts.model import Copy, receipt_for
from terminal.settings import Settings

ENTRY_MODES = {"nfc": "Contactless", "qr_cpm": "Scanned", "qr_mpm": "Scanned"}

CONDITIONS = {
    Result.DECLINED: "Refusal",
    Result.CANCELLED: "Aborted",
    Result.ERROR: "UnavailableService",
}
"""ErrorCondition of a sale that did not end approved."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def failure(condition: str, sentence: str) -> dict[str, Any]:
    """A `Response` object with Result "Failure"."""
    return {
        "Result": "Failure",
        "ErrorCondition": condition,
        "AdditionalResponse": urlencode({"message": sentence}),
    }


def success() -> dict[str, Any]:
    return {"Result": "Success"}


def partial(outcome: Outcome, authorized: Amount) -> dict[str, Any]:
    """The `Response` of a partial approval: nexo's Result "Partial" (AuthorizedAmount carries
    what the card paid); AmountsResp has no field for what was asked or is left, so those ride
    in AdditionalResponse, as decimals like every nexo amount."""
    remaining = outcome.remaining_amount or outcome.amount - authorized
    extra = {
        "message": outcome.message,
        "requestedAmount": str(decimal_of(outcome.amount)),
        "remainingAmount": str(decimal_of(remaining)),
    }
    return {"Result": "Partial", "AdditionalResponse": urlencode(extra)}


def document(header: Header, body: dict[str, Any]) -> dict[str, Any]:
    """The `{"SaleToPOIResponse": ...}` document answering `header`'s request."""
    return {
        "SaleToPOIResponse": {
            "MessageHeader": header.response(),
            f"{header.category}Response": body,
        }
    }


def refused(header: Header, condition: str, sentence: str) -> dict[str, Any]:
    """The answer to a request refused before anything ran."""
    body: dict[str, Any] = {"Response": failure(condition, sentence)}
    if header.category == "Payment":
        body["POIData"] = {"POITransactionID": {"TransactionID": "", "TimeStamp": now()}}
    return document(header, body)


def _receipt(view: TransactionView, settings: Settings, copy: Copy) -> dict[str, Any]:
    lines = receipt_lines(receipt_for(view, settings, copy), settings.ui.receipt_columns)
    texts: list[dict[str, Any]] = []
    for line in lines:
        text: dict[str, Any] = {"Text": line.text, "EndOfLineFlag": True}
        if line.bold:
            text["CharacterStyle"] = "Bold"
        texts.append(text)
    return {
        "DocumentQualifier": "CashierReceipt" if copy is Copy.MERCHANT else "CustomerReceipt",
        "RequiredSignatureFlag": False,
        "OutputContent": {"OutputFormat": "Text", "OutputText": texts},
    }


def payment_response(
    call: PaymentCall,
    outcome: Outcome,
    view: TransactionView | None,
    settings: Settings,
) -> dict[str, Any]:
    """The PaymentResponse body for a sale that ended with `outcome` (`view`: its journal row,
    for the receipts; None when the sale never reached the journal)."""
    approved = outcome.result in (Result.APPROVED, Result.APPROVED_OFFLINE)
    authorized = outcome.amount if approved else Amount.zero(outcome.amount.currency)
    if approved and outcome.approved_amount is not None and outcome.approved_amount < authorized:
        authorized = outcome.approved_amount
        response: dict[str, Any] = partial(outcome, authorized)
    elif approved:
        response = success()
    else:
        condition = CONDITIONS.get(outcome.result, "UnavailableService")
        extra = {"message": outcome.message}
        if outcome.code:
            extra["refusalReason"] = outcome.code
        response = {
            "Result": "Failure",
            "ErrorCondition": condition,
            "AdditionalResponse": urlencode(extra),
        }
    stamp = (view.created_at if view else datetime.now(UTC)).isoformat(timespec="seconds")
    body: dict[str, Any] = {
        "Response": response,
        "SaleData": {
            "SaleTransactionID": {
                "TransactionID": call.transaction_id,
                "TimeStamp": call.timestamp,
            },
            **({"SaleReferenceID": call.sale_reference_id} if call.sale_reference_id else {}),
        },
        "POIData": {"POITransactionID": {"TransactionID": outcome.id, "TimeStamp": stamp}},
    }
    if outcome.masked_pan or approved:
        amounts: dict[str, Any] = {
            "AuthorizedAmount": decimal_of(authorized),
            "Currency": outcome.amount.currency.code,
        }
        if call.tip is not None and approved:
            amounts["TipAmount"] = decimal_of(call.tip)
        result: dict[str, Any] = {
            "PaymentType": "Refund" if call.refund else "Normal",
            "PaymentInstrumentData": {
                "PaymentInstrumentType": "Card" if outcome.entry == "nfc" else "Mobile",
                "CardData": {
                    "EntryMode": [ENTRY_MODES.get(outcome.entry, "Contactless")],
                    "PaymentBrand": outcome.scheme or (view.scheme if view else ""),
                    "MaskedPan": outcome.masked_pan,
                },
            },
            "AmountsResp": amounts,
            "OnlineFlag": outcome.result is not Result.APPROVED_OFFLINE,
        }
        if approved:
            result["PaymentAcquirerData"] = {
                "AcquirerPOIID": settings.terminal.terminal_id,
                "ApprovalCode": outcome.auth_code,
                "AcquirerTransactionID": {"TransactionID": outcome.id, "TimeStamp": stamp},
            }
        body["PaymentResult"] = result
    if view is not None and outcome.result is not Result.CANCELLED:
        body["PaymentReceipt"] = [
            _receipt(view, settings, Copy.MERCHANT),
            _receipt(view, settings, Copy.CUSTOMER),
        ]
    return body


def reversal_response(original_id: str, outcome: Outcome) -> dict[str, Any]:
    approved = outcome.result in (Result.APPROVED, Result.APPROVED_OFFLINE)
    body: dict[str, Any] = {
        "Response": success()
        if approved
        else {
            "Result": "Failure",
            "ErrorCondition": CONDITIONS.get(outcome.result, "UnavailableService"),
            "AdditionalResponse": urlencode(
                {
                    "message": outcome.message,
                    **({"refusalReason": outcome.code} if outcome.code else {}),
                }
            ),
        },
        "POIData": {"POITransactionID": {"TransactionID": outcome.id, "TimeStamp": now()}},
        "OriginalPOITransaction": {"POITransactionID": {"TransactionID": original_id}},
    }
    if approved:
        body["ReversedAmount"] = decimal_of(outcome.amount)
    return body
