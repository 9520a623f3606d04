"""Parsing of nexo `SaleToPOIRequest` documents into what the door acts on.

Every missing mandatory field, wrong type or unknown category is a `MessageFormat` naming the
field (its path in the document), so a POS developer sees at once what to fix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from terminal.money import Amount, Currency
from terminal.nexo.errors import MessageFormat, NexoRefusal
from terminal.nexo.wire import dumps, to_minor

CATEGORIES = {
    "Payment": "Service",
    "Reversal": "Service",
    "Abort": "Service",
    "TransactionStatus": "Service",
    "Diagnosis": "Service",
    "Login": "Service",
    "Logout": "Service",
    "Print": "Device",
    "Display": "Device",
}
"""The message categories posterm answers, with the MessageClass the clients send."""

REVERSAL_REASONS = {"MerchantCancel", "CustAbort", "Malfunction", "Unable2Compl"}


@dataclass(frozen=True, slots=True)
class Header:
    protocol_version: str
    message_class: str
    category: str
    service_id: str
    sale_id: str
    poi_id: str

    def response(self) -> dict[str, Any]:
        """The response's header: the request's, with MessageType "Response"."""
        return {
            "ProtocolVersion": self.protocol_version,
            "MessageClass": self.message_class,
            "MessageCategory": self.category,
            "MessageType": "Response",
            "ServiceID": self.service_id,
            "SaleID": self.sale_id,
            "POIID": self.poi_id,
        }


@dataclass(frozen=True, slots=True)
class Request:
    """A request whose header parsed; `body` is its `<Category>Request` object."""

    header: Header
    body: dict[str, Any]
    digest: str
    """SHA-256 of the request document, to tell a repeated ServiceID's same request."""
    raw: bytes = b""
    """The clear request document as it arrived (kept by the door for status after a restart)."""


@dataclass(frozen=True, slots=True)
class PaymentCall:
    transaction_id: str
    timestamp: str
    sale_reference_id: str
    amount: Amount
    tip: Amount | None
    refund: bool
    sale_data: dict[str, Any] = field(default_factory=dict)
    allow_partial: bool = False
    """The POS lets the issuer approve less than `amount` (nexo AllowPartialAuthorisation)."""


@dataclass(frozen=True, slots=True)
class MessageReference:
    category: str
    service_id: str
    sale_id: str


def _object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MessageFormat(f"{path}.{key} is missing or not an object.")
    return value


def _text(
    parent: dict[str, Any], key: str, path: str, *, limit: int = 256, optional: bool = False
) -> str:
    value = parent.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not value:
        raise MessageFormat(f"{path}.{key} is missing or not text.")
    if len(value) > limit:
        raise MessageFormat(f"{path}.{key} is longer than {limit} characters.")
    return value


def header_of(document: dict[str, Any]) -> Header:
    """The header of a `{"SaleToPOIRequest": ...}` document (clear or sealed envelope)."""
    message = _object(document, "SaleToPOIRequest", "(body)")
    return _header(message)


def _header(message: dict[str, Any]) -> Header:
    path = "SaleToPOIRequest.MessageHeader"
    header = _object(message, "MessageHeader", "SaleToPOIRequest")
    category = _text(header, "MessageCategory", path, limit=32)
    message_type = _text(header, "MessageType", path, limit=32)
    if message_type != "Request":
        raise MessageFormat(f'{path}.MessageType must be "Request".')
    service_id = _text(header, "ServiceID", path, limit=10)
    return Header(
        protocol_version=_text(header, "ProtocolVersion", path, limit=8, optional=True) or "3.0",
        message_class=_text(header, "MessageClass", path, limit=16),
        category=category,
        service_id=service_id,
        sale_id=_text(header, "SaleID", path, limit=64),
        poi_id=_text(header, "POIID", path, limit=64),
    )


def parse_request(document: dict[str, Any], raw: bytes = b"") -> Request:
    """Header and body of a clear `{"SaleToPOIRequest": ...}` document (`raw`: its bytes)."""
    message = _object(document, "SaleToPOIRequest", "(body)")
    header = _header(message)
    if header.category not in CATEGORIES:
        raise MessageFormat(
            f"SaleToPOIRequest.MessageHeader.MessageCategory {header.category!r} is not one "
            f"this terminal answers ({', '.join(CATEGORIES)})."
        )
    body = _object(message, f"{header.category}Request", "SaleToPOIRequest")
    digest = hashlib.sha256(dumps(_canonical(document))).hexdigest()
    return Request(header, body, digest, raw)


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def parse_payment(body: dict[str, Any], currency: Currency) -> PaymentCall:
    path = "PaymentRequest"
    sale = _object(body, "SaleData", path)
    if "SaleToAcquirerData" in sale and not isinstance(sale["SaleToAcquirerData"], (str, dict)):
        raise MessageFormat(f"{path}.SaleData.SaleToAcquirerData must be text or an object.")
    sale_txn = _object(sale, "SaleTransactionID", f"{path}.SaleData")
    txn_path = f"{path}.SaleData.SaleTransactionID"
    transaction_id = _text(sale_txn, "TransactionID", txn_path, limit=64)
    timestamp = _text(sale_txn, "TimeStamp", txn_path, limit=64)
    try:
        datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise MessageFormat(f"{txn_path}.TimeStamp is not an ISO 8601 date and time.") from None
    reference = _text(sale, "SaleReferenceID", f"{path}.SaleData", optional=True)
    transaction = _object(body, "PaymentTransaction", path)
    amounts = _object(transaction, "AmountsReq", f"{path}.PaymentTransaction")
    amounts_path = f"{path}.PaymentTransaction.AmountsReq"
    code = _text(amounts, "Currency", amounts_path, limit=3)
    if code != currency.code:
        raise NexoRefusal(
            "NotAllowed", f"This terminal takes {currency.code}, not {code} ({amounts_path})."
        )
    if "RequestedAmount" not in amounts:
        raise MessageFormat(f"{amounts_path}.RequestedAmount is missing.")
    minor = to_minor(amounts["RequestedAmount"], currency, f"{amounts_path}.RequestedAmount")
    tip: Amount | None = None
    if amounts.get("TipAmount") is not None:
        tip_minor = to_minor(amounts["TipAmount"], currency, f"{amounts_path}.TipAmount")
        if tip_minor < 0:
            raise MessageFormat(f"{amounts_path}.TipAmount must not be negative.")
        tip = Amount.of(tip_minor, currency) if tip_minor else None
    if minor <= 0:
        raise MessageFormat(f"{amounts_path}.RequestedAmount must be greater than zero.")
    if minor > 999_999_999_999:
        raise MessageFormat(f"{amounts_path}.RequestedAmount is too large.")
    payment_type = "Normal"
    data = body.get("PaymentData")
    if data is not None:
        if not isinstance(data, dict):
            raise MessageFormat(f"{path}.PaymentData must be an object.")
        payment_type = _text(data, "PaymentType", f"{path}.PaymentData", optional=True, limit=32)
        payment_type = payment_type or "Normal"
    if payment_type not in ("Normal", "Refund"):
        raise NexoRefusal(
            "NotAllowed",
            f'{path}.PaymentData.PaymentType "{payment_type}" is not supported '
            '(this terminal takes "Normal", "Refund", "FirstReservation", "UpdateReservation" '
            'and "Completion").',
        )
    conditions = transaction.get("TransactionConditions")
    conditions_path = f"{path}.PaymentTransaction.TransactionConditions"
    allow_partial = False
    if conditions is not None:
        if not isinstance(conditions, dict):
            raise MessageFormat(f"{conditions_path} must be an object.")
        flag = conditions.get("AllowPartialAuthorisation", False)
        if not isinstance(flag, bool):
            raise MessageFormat(
                f"{conditions_path}.AllowPartialAuthorisation must be true or false."
            )
        allow_partial = flag
    refund = payment_type == "Refund"
    if allow_partial and refund:
        raise NexoRefusal(
            "NotAllowed",
            f"{conditions_path}.AllowPartialAuthorisation applies to payments, not to a refund; "
            "nothing was sent.",
        )
    if not refund and "AllowPartialAuthorisation" in tender_options(sale.get("SaleToAcquirerData")):
        allow_partial = True
    total = minor + (tip.minor if tip else 0)
    return PaymentCall(
        transaction_id=transaction_id,
        timestamp=timestamp,
        sale_reference_id=reference,
        amount=Amount.of(total, currency),
        tip=tip,
        refund=refund,
        sale_data=sale,
        allow_partial=allow_partial,
    )


def tender_options(acquirer_data: object) -> set[str]:
    """The `tenderOption` values of SaleToAcquirerData: how Adyen's POS libraries ask for
    partial authorisation ("tenderOption=AllowPartialAuthorisation", comma-separated or
    repeated), since their request models drop TransactionConditions.AllowPartialAuthorisation.
    Text the door cannot read as key=value pairs names no option."""
    values: list[str] = []
    if isinstance(acquirer_data, str):
        try:
            fields = parse_qs(acquirer_data[:4096], max_num_fields=64)
        except ValueError:  # more fields than any POS sends: none of them is read
            fields = {}
        values = fields.get("tenderOption", [])
    elif isinstance(acquirer_data, dict):
        value = acquirer_data.get("tenderOption")
        if isinstance(value, str):
            values = [value]
    return {option.strip() for text in values for option in text.split(",") if option.strip()}


def parse_reversal(body: dict[str, Any]) -> tuple[str, str]:
    """(posterm's sale id, reason) of a ReversalRequest."""
    path = "ReversalRequest"
    original = _object(body, "OriginalPOITransaction", path)
    poi = _object(original, "POITransactionID", f"{path}.OriginalPOITransaction")
    sale_id = _text(
        poi, "TransactionID", f"{path}.OriginalPOITransaction.POITransactionID", limit=64
    )
    reason = _text(body, "ReversalReason", path, limit=32)
    if reason not in REVERSAL_REASONS:
        raise MessageFormat(
            f"{path}.ReversalReason must be one of {', '.join(sorted(REVERSAL_REASONS))}."
        )
    return sale_id, reason


def parse_reference(body: dict[str, Any], path: str, *, optional: bool) -> MessageReference | None:
    value = body.get("MessageReference")
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise MessageFormat(f"{path}.MessageReference is missing or not an object.")
    ref_path = f"{path}.MessageReference"
    return MessageReference(
        category=_text(value, "MessageCategory", ref_path, limit=32, optional=True),
        service_id=_text(value, "ServiceID", ref_path, limit=10, optional=optional),
        sale_id=_text(value, "SaleID", ref_path, limit=64, optional=True),
    )


def parse_abort(body: dict[str, Any]) -> tuple[MessageReference, str]:
    reference = parse_reference(body, "AbortRequest", optional=False)
    assert reference is not None
    reason = _text(body, "AbortReason", "AbortRequest", optional=True, limit=256)
    return reference, reason


def output_lines(body: dict[str, Any], path: str, output_key: str) -> list[str]:
    """The text lines of a PrintRequest's or DisplayRequest's OutputContent."""
    outputs: Any = body.get(output_key)
    if isinstance(outputs, dict):
        outputs = [outputs]
    if not isinstance(outputs, list) or not outputs:
        raise MessageFormat(f"{path}.{output_key} is missing.")
    lines: list[str] = []
    for n, output in enumerate(outputs):
        if not isinstance(output, dict):
            raise MessageFormat(f"{path}.{output_key}[{n}] must be an object.")
        content = _object(output, "OutputContent", f"{path}.{output_key}[{n}]")
        content_path = f"{path}.{output_key}[{n}].OutputContent"
        if content.get("OutputFormat", "Text") != "Text":
            raise NexoRefusal("NotAllowed", f"{content_path}.OutputFormat: only Text is supported.")
        texts = content.get("OutputText")
        if not isinstance(texts, list):
            raise MessageFormat(f"{content_path}.OutputText is missing or not a list.")
        for m, text in enumerate(texts):
            if not isinstance(text, dict) or not isinstance(text.get("Text", ""), str):
                raise MessageFormat(f"{content_path}.OutputText[{m}].Text must be text.")
            lines.append(str(text.get("Text", ""))[:200])
    if len(lines) > 200:
        raise MessageFormat(f"{path}: more than 200 lines of text.")
    return lines


def is_decimal(value: object) -> bool:
    return isinstance(value, Decimal)
