"""A receipt laid out as lines for a printer of a given width, or as text for the screen."""

from __future__ import annotations

import unicodedata

from drivers.base import PrintLine
from terminal.i18n import Translator, _, active
from terminal.i18n.words import entry_label, result_label, type_label
from terminal.receipts.model import Copy, Receipt

DEFAULT_COLUMNS = 42
"""80 mm paper, font A; 58 mm printers have 32."""


def width(text: str) -> int:
    """Printed width: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pair(label: str, value: str, columns: int) -> str:
    """ "Label ........ value" on one line, or the value alone when both do not fit."""
    gap = columns - width(label) - width(value)
    if gap < 1:
        return value
    return label + " " * gap + value


def receipt_lines(
    receipt: Receipt, columns: int = DEFAULT_COLUMNS, tr: Translator | None = None
) -> list[PrintLine]:
    """The printed lines of one copy, in the active language."""
    tr = tr or active()
    rule = PrintLine("-" * columns)
    lines = [PrintLine(receipt.merchant_name, bold=True, align="center")]
    if receipt.merchant_address:
        lines.append(PrintLine(receipt.merchant_address, align="center"))
    lines.append(PrintLine(receipt.merchant_city, align="center"))
    lines.append(rule)
    lines.append(PrintLine(pair(_("Merchant"), receipt.merchant_id, columns)))
    lines.append(PrintLine(pair(_("Terminal"), receipt.terminal_id, columns)))
    lines.append(PrintLine(pair(_("Date"), tr.date_time(receipt.created_at), columns)))
    lines.append(PrintLine(pair(_("Transaction"), receipt.transaction_id[:13], columns)))
    if receipt.reference:
        lines.append(PrintLine(pair(_("Reference"), receipt.reference, columns)))
    lines.append(rule)
    lines.append(PrintLine(type_label(receipt.type).upper(), bold=True, align="center"))
    if receipt.card_number:
        lines.append(PrintLine(pair(_("Card"), receipt.card_number, columns)))
    if receipt.scheme:
        lines.append(PrintLine(pair(_("Scheme"), receipt.scheme.upper(), columns)))
    if receipt.aid:
        lines.append(PrintLine(pair("AID", receipt.aid, columns)))
    lines.append(PrintLine(pair(_("Entry"), entry_label(receipt.entry), columns)))
    if receipt.tip is not None and not receipt.tip.is_zero:
        lines.append(PrintLine(pair(_("Amount"), tr.amount(receipt.amount - receipt.tip), columns)))
        lines.append(PrintLine(pair(_("Tip"), tr.amount(receipt.tip), columns)))
    lines.append(PrintLine(pair(_("TOTAL"), tr.amount(receipt.amount), columns), bold=True))
    if receipt.paid_with and receipt.approved:
        lines.append(PrintLine(receipt.paid_with, align="center"))
    lines.append(rule)
    lines.append(
        PrintLine(result_label(receipt.result).upper(), bold=True, align="center", large=True)
    )
    if receipt.auth_code:
        lines.append(PrintLine(pair(_("Auth code"), receipt.auth_code, columns)))
    if receipt.code:
        lines.append(PrintLine(pair(_("Response"), receipt.code, columns)))
    if receipt.offline:
        lines.append(PrintLine(_("Approved offline: sent to the bank later."), align="center"))
    if not receipt.approved and receipt.message:
        lines.append(PrintLine(receipt.message, align="center"))
    lines.append(rule)
    copy = _("MERCHANT COPY") if receipt.copy is Copy.MERCHANT else _("CUSTOMER COPY")
    lines.append(PrintLine(copy, align="center"))
    if receipt.footer:
        lines.append(PrintLine(receipt.footer, align="center"))
    return lines


def receipt_text(receipt: Receipt, columns: int = DEFAULT_COLUMNS) -> str:
    """The receipt as plain text, for the on-screen preview."""
    out = []
    for line in receipt_lines(receipt, columns):
        text = line.text
        pad = columns - width(text)
        if line.align == "center" and pad > 0:
            text = " " * (pad // 2) + text
        elif line.align == "right" and pad > 0:
            text = " " * pad + text
        out.append(text)
    return "\n".join(out)
