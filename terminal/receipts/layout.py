"""A receipt laid out as lines for a printer of a given width, or as text for the screen.

The slip is a sequence of sections (`SECTIONS`), each a function from the receipt to its lines,
with a rule printed after the ones that close a block. A flow that needs more on the slip (a
hold's wording, a split tender's parts) adds a section or a line in one, not a branch in one
long layout.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import PrintLine
from terminal.emv.receipt_data import Cvm
from terminal.i18n import Translator, _, active
from terminal.i18n.words import entry_label, result_label, type_label
from terminal.receipts.model import Copy, Receipt

DEFAULT_COLUMNS = 42
"""80 mm paper, font A; 58 mm printers have 32."""


def width(text: str) -> int:
    """Printed width: CJK characters take two columns (ASCII text, most lines: one each)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pair(label: str, value: str, columns: int) -> str:
    """ "Label ........ value" on one line, or the value alone when both do not fit."""
    gap = columns - width(label) - width(value)
    if gap < 1:
        return value
    return label + " " * gap + value


@dataclass(frozen=True, slots=True)
class Page:
    """What every section gets: the receipt, the paper width and the language."""

    receipt: Receipt
    columns: int
    tr: Translator

    def pair(self, label: str, value: str, *, bold: bool = False) -> PrintLine:
        return PrintLine(pair(label, value, self.columns), bold=bold)


Section = Callable[[Page], list[PrintLine]]


def merchant_header(page: Page) -> list[PrintLine]:
    """Who sold: the merchant's name and address, centred."""
    receipt = page.receipt
    lines = [PrintLine(receipt.merchant_name, bold=True, align="center")]
    if receipt.merchant_address:
        lines.append(PrintLine(receipt.merchant_address, align="center"))
    lines.append(PrintLine(receipt.merchant_city, align="center"))
    return lines


def identifiers(page: Page) -> list[PrintLine]:
    """The ids a bank or the merchant quotes when they look a payment up."""
    receipt = page.receipt
    lines = [
        page.pair(_("Merchant"), receipt.merchant_id),
        page.pair(_("Terminal"), receipt.terminal_id),
        page.pair(_("Date"), page.tr.date_time(receipt.created_at)),
        page.pair(_("Transaction"), receipt.transaction_id[:13]),
    ]
    if receipt.reference:
        lines.append(page.pair(_("Reference"), receipt.reference))
    return lines


def card_and_amount(page: Page) -> list[PrintLine]:
    """What was paid, with what: the card facts schemes require, then the amounts."""
    receipt, tr = page.receipt, page.tr
    lines = [PrintLine(type_label(receipt.type).upper(), bold=True, align="center")]
    if receipt.label:
        lines.append(page.pair(_("Application"), receipt.label))
    if receipt.card_number:
        lines.append(page.pair(_("Card"), receipt.card_number))
    if receipt.scheme:
        lines.append(page.pair(_("Scheme"), receipt.scheme.upper()))
    if receipt.aid:
        lines.append(page.pair("AID", receipt.aid))
    lines.append(page.pair(_("Entry"), entry_label(receipt.entry)))
    if receipt.cryptogram_type:
        lines.append(page.pair(_("Cryptogram"), receipt.cryptogram_type))
    if receipt.tip is not None and not receipt.tip.is_zero:
        lines.append(page.pair(_("Amount"), tr.amount(receipt.amount - receipt.tip)))
        lines.append(page.pair(_("Tip"), tr.amount(receipt.tip)))
    if receipt.requested is not None:  # a partial approval: the rest is another tender
        lines.append(page.pair(_("Requested"), tr.amount(receipt.requested)))
    if receipt.hold:
        held = receipt.held or receipt.amount
        lines.append(page.pair(_("HELD"), tr.amount(held), bold=True))
    else:
        lines.append(page.pair(_("TOTAL"), tr.amount(receipt.amount), bold=True))
    if receipt.requested is not None and receipt.approved:
        lines.append(PrintLine(_("PARTIAL APPROVAL"), bold=True, align="center"))
        lines.append(page.pair(_("Left to pay"), tr.amount(receipt.requested - receipt.amount)))
    if receipt.paid_with and receipt.approved:
        lines.append(PrintLine(receipt.paid_with, align="center"))
    lines.extend(_hold_lines(page))
    return lines


def result(page: Page) -> list[PrintLine]:
    """The answer: approved or not, the authorisation code, the reason of a decline."""
    receipt = page.receipt
    lines = [PrintLine(result_label(receipt.result).upper(), bold=True, align="center", large=True)]
    if receipt.auth_code:
        lines.append(page.pair(_("Auth code"), receipt.auth_code))
    if receipt.code:
        lines.append(page.pair(_("Response"), receipt.code))
    if receipt.offline:
        lines.append(PrintLine(_("Approved offline: sent to the bank later."), align="center"))
    if not receipt.approved and receipt.message:
        lines.append(PrintLine(receipt.message, align="center"))
    return lines


def cardholder_verification(page: Page) -> list[PrintLine]:
    """The CVM line of an approved card sale: what the cardholder did (or need not do)."""
    receipt = page.receipt
    if not receipt.approved or receipt.type != "sale":
        return []
    if receipt.cvm == Cvm.SIGNATURE:
        lines = [PrintLine(_("Signature"), align="center")]
        if receipt.copy is Copy.MERCHANT:
            lines += [PrintLine(""), PrintLine("X" + "_" * (page.columns - 1))]
        return lines
    said = {
        Cvm.NONE: [_("No signature required")],
        Cvm.PIN: [_("PIN verified")],
        Cvm.CDCVM: [_("Verified on device"), _("No signature required")],
    }
    try:
        texts = said[Cvm(receipt.cvm)]
    except (ValueError, KeyError):  # a value a newer posterm wrote: claim nothing
        return []
    return [PrintLine(text, align="center") for text in texts]


def closing(page: Page) -> list[PrintLine]:
    """Whose copy this is, and the merchant's footer on the customer's."""
    receipt = page.receipt
    copy = _("MERCHANT COPY") if receipt.copy is Copy.MERCHANT else _("CUSTOMER COPY")
    lines = [PrintLine(copy, align="center")]
    if receipt.footer:
        lines.append(PrintLine(receipt.footer, align="center"))
    return lines


def _hold_lines(page: Page) -> list[PrintLine]:
    """What a pre-authorisation's or capture's slip must say: a hold is not a charge."""
    receipt, tr = page.receipt, page.tr
    lines: list[PrintLine] = []
    if receipt.hold:
        lines.append(PrintLine(_("PRE-AUTHORISATION: AMOUNT HELD"), bold=True, align="center"))
        lines.append(PrintLine(_("This amount is held on the card, not charged."), align="center"))
        if receipt.expires_at is not None:
            lines.append(page.pair(_("Hold expires"), tr.date_time(receipt.expires_at)))
    elif receipt.type in ("capture", "increment", "preauth_cancel") and receipt.ref:
        lines.append(page.pair(_("Pre-authorisation"), receipt.ref[:13]))
        if receipt.type == "capture":
            lines.append(
                PrintLine(_("Final amount charged; the hold is released."), align="center")
            )
    return lines


SECTIONS: tuple[tuple[Section, bool], ...] = (
    (merchant_header, True),
    (identifiers, True),
    (card_and_amount, True),
    (result, False),
    (cardholder_verification, True),
    (closing, False),
)
"""The slip from top to bottom: (section, whether a rule follows it)."""


def receipt_lines(
    receipt: Receipt, columns: int = DEFAULT_COLUMNS, tr: Translator | None = None
) -> list[PrintLine]:
    """The printed lines of one copy, in the active language."""
    page = Page(receipt, columns, tr or active())
    lines: list[PrintLine] = []
    for section, ruled in SECTIONS:
        lines.extend(section(page))
        if ruled:
            lines.append(PrintLine("-" * columns))
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
