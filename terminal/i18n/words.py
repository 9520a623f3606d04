"""Words shared by the screen, receipts and the customer display: entry modes, results and the
bank's response codes in plain language."""

from __future__ import annotations

from terminal.i18n import N_, _

_ENTRY = {
    "nfc": N_("Contactless"),
    "qr_cpm": N_("QR code (customer)"),
    "qr-scan": N_("QR code (customer)"),
    "qr_mpm": N_("QR code (merchant)"),
    "qr-show": N_("QR code (merchant)"),
    "cash": N_("Cash"),
}

_RESULT = {
    "approved": N_("Approved"),
    "approved_offline": N_("Approved offline"),
    "declined": N_("Declined"),
    "declined_after_forward": N_("Declined later"),
    "cancelled": N_("Cancelled"),
    "error": N_("Not completed"),
    "pending": N_("Pending"),
    "reversed": N_("Reversed"),
}

_TYPE = {
    "sale": N_("Sale"),
    "refund": N_("Refund"),
    "void": N_("Void"),
    "reversal": N_("Reversal"),
    "tip_adjust": N_("Tip adjust"),
    "cash": N_("Cash"),
    "preauth": N_("Pre-authorisation"),
    "increment": N_("Increment"),
    "capture": N_("Capture"),
    "preauth_cancel": N_("Cancelled hold"),
}

# ISO 8583 field 39 codes (FACTS.md) in words a customer understands.
_REASON = {
    "00": N_("Approved."),
    "01": N_("The bank asks you to call it."),
    "05": N_("The bank declined the card (do not honour)."),
    "12": N_("The bank refused this kind of transaction."),
    "13": N_("The amount was refused by the bank."),
    "14": N_("The card number is not valid."),
    "30": N_("The bank could not read the request."),
    "51": N_("Insufficient funds."),
    "54": N_("The card has expired."),
    "55": N_("Wrong PIN."),
    "59": N_("The bank suspects fraud; ask for another card."),
    "61": N_("Over the card's amount limit."),
    "65": N_("The card was used too often; ask for another card."),
    "68": N_("The bank answered too late."),
    "91": N_("The card's bank is not available; try again or use another card."),
    "92": N_("The bank cannot be reached for this card."),
    "94": N_("Duplicate transaction."),
    "96": N_("The bank had a system error; try again."),
}


def entry_label(entry: str) -> str:
    return _(_ENTRY[entry]) if entry in _ENTRY else entry


def result_label(result: str) -> str:
    return _(_RESULT[result]) if result in _RESULT else result


def type_label(kind: str) -> str:
    return _(_TYPE[kind]) if kind in _TYPE else kind


def decline_reason(code: str, fallback: str = "") -> str:
    """The bank's reason for `code` in plain words; `fallback` (the engine's sentence) else."""
    if code in _REASON and code != "00":
        return _(_REASON[code])
    return fallback or _("The payment was not approved.")
